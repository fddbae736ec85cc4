"""Insert-if-absent and insert-or-update, the portable way.

SQLite and PostgreSQL both have ``INSERT ... ON CONFLICT``, one atomic statement with no race
between "does it exist?" and "insert". Any other backend gets a read-then-write fallback,
which is correct inside the caller's transaction but may race under concurrency there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert, select, update


def insert_for_dialect(conn: Connection):
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    return None


def _key(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert ``values`` unless a row with the same primary key exists; True if inserted."""
    dialect_insert = insert_for_dialect(conn)
    if dialect_insert is not None:
        stmt = (
            dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=_key(table))
        )
        # preserve_rowcount: SQLAlchemy only promises rowcount for UPDATE/DELETE; without it
        # psycopg 3 answers -1 for this INSERT.
        return conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1
    where = [table.c[k] == values[k] for k in _key(table)]
    if conn.execute(select(*table.primary_key.columns).where(*where)).first() is not None:
        return False
    conn.execute(insert(table).values(**values))
    return True


def upsert(conn: Connection, table: Table, values: dict[str, Any]) -> None:
    """Insert ``values``, or overwrite the non-key columns of the row with the same key."""
    key = _key(table)
    rest = {k: v for k, v in values.items() if k not in key}
    dialect_insert = insert_for_dialect(conn)
    if dialect_insert is not None:
        stmt = dialect_insert(table).values(**values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=key, set_={k: stmt.excluded[k] for k in rest})
        )
        return
    where = [table.c[k] == values[k] for k in key]
    if conn.execute(update(table).where(*where).values(**rest)).rowcount == 0:
        conn.execute(insert(table).values(**values))
