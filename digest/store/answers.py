"""Writing a send's answers to the ledger, and binding a batch's ids as one value: shared by the
claims (digest/store/claims.py), which write the previous batch's answers in their own
transaction, and by ledger.record, which writes them on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import (
    Integer,
    Select,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from digest.store import schema as t

DETAIL_MAX = 500


def group_answers(
    results: Iterable[tuple[int, str, str | None]],
) -> dict[tuple[str, str | None], list[int]]:
    groups: dict[tuple[str, str | None], list[int]] = {}
    for delivery_id, status, detail in results:
        groups.setdefault((status, (detail or "")[:DETAIL_MAX] or None), []).append(delivery_id)
    return groups


def write_answers(conn, groups: dict[tuple[str, str | None], list[int]], now) -> None:
    d = t.deliveries
    singles = []
    for (status, detail), ids in groups.items():
        if len(ids) == 1:
            singles.append({"b_id": ids[0], "b_status": status, "b_detail": detail})
        else:
            conn.execute(
                update(d)
                .where(among(conn, d.c.id, ids))
                .values(status=status, detail=detail, updated_at=now)
            )
    if singles:
        conn.execute(
            update(d)
            .where(d.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), detail=bindparam("b_detail"), updated_at=now),
            singles,
        )


def among(conn, column, ids: list[int]):
    """``column IN ids`` as ONE bound value, whatever the number of ids: an expanding IN of
    1,000 parameters costs SQLAlchemy ~1 ms to render per statement, more than the update.
    SQLite reads them from a JSON array (json_each, built in since 3.38 and in the usual
    builds long before), PostgreSQL from an array (= ANY)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    rows: Select = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", json.dumps(ids), type_=String))
    )
    return column.in_(rows.scalar_subquery())
