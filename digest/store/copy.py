"""Copy every table from one database to another (SQLite to PostgreSQL or back).

Rows go through SQLAlchemy's types, so timestamps, booleans and bytes arrive as the target
stores them; ids are copied as they are (unsubscribe links and the ledger refer to them), and
PostgreSQL's id sequences are moved past the copied ids afterwards. The source is read in one
transaction (one consistent snapshot) and the target written in one: a failed copy leaves the
target as empty as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Integer, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from digest.errors import StoreError
from digest.store.db import Database
from digest.store.revision import check_revision, upgrade_schema
from digest.store.schema import metadata

BATCH_ROWS = 5_000


def nonempty_tables(db: Database) -> list[str]:
    """digest's tables in ``db`` that hold at least one row."""
    with db.read() as conn:
        present = set(inspect(conn).get_table_names())
        return [
            t.name
            for t in metadata.sorted_tables
            if t.name in present and conn.execute(select(1).select_from(t).limit(1)).first()
        ]


def copy_database(
    source: Database,
    target: Database,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; returns {table: rows}.

    The source must be at this digest's head revision; the target is upgraded to it first.
    ``progress(table, rows_so_far)`` is called after each batch.
    """
    check_revision(source.engine)
    busy = nonempty_tables(target)
    if busy:
        raise StoreError(
            f"the target database is not empty ({', '.join(busy)} hold rows); "
            f"copy into a new, empty database"
        )
    upgrade_schema(target)
    copied: dict[str, int] = {}
    try:
        with source.read() as src, target.write() as dst:
            for table in metadata.sorted_tables:  # parents before the rows that refer to them
                copied[table.name] = _copy_table(src, dst, table, batch_rows, progress)
            if dst.dialect.name == "postgresql":
                _reset_sequences(dst)
    except DBAPIError as exc:
        raise StoreError(f"the target refused the copy ({exc.orig}); it was left empty") from None
    return copied


def _copy_table(src: Connection, dst: Connection, table, batch_rows: int, progress) -> int:
    rows = 0
    query = select(table).order_by(*table.primary_key.columns)
    result = src.execution_options(yield_per=batch_rows).execute(query)
    for batch in result.mappings().partitions(batch_rows):
        dst.execute(table.insert(), [dict(row) for row in batch])
        rows += len(batch)
        if progress:
            progress(table.name, rows)
    return rows


def _reset_sequences(dst: Connection) -> None:
    """Copied ids bypass the SERIAL sequences; without this the next insert would reuse id 1."""
    for table in metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer) or not pk[0].autoincrement:
            continue
        sequence = dst.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        )
        if sequence is None:
            continue
        top = dst.scalar(select(func.max(pk[0])))
        # setval(seq, 1, false): the next id is 1 on an empty table; else max + 1.
        dst.execute(
            text("SELECT setval(:s, :v, :called)"),
            {"s": sequence, "v": top or 1, "called": top is not None},
        )
