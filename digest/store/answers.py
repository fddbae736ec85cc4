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
    or_,
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
    """``column IN ids`` in as few bound values as the ids allow. A batch is nearly always a
    run of consecutive ledger ids (the ledger is filled in one statement, in subscriber order),
    sent as ``BETWEEN`` ranges (at most ``MAX_RANGES``): read as index ranges, half the cost of
    looking up each id on SQLite. Otherwise the ids go as ONE value (an expanding IN of 1,000
    parameters costs SQLAlchemy ~1 ms to render per statement, more than the update): a JSON
    array read by json_each on SQLite (built in since 3.38 and in the usual builds long before),
    an array (= ANY) on PostgreSQL."""
    ranges = id_ranges(ids)
    if ranges is not None:
        return or_(*(column.between(lo, hi) for lo, hi in ranges))
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    rows: Select = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", json.dumps(ids), type_=String))
    )
    return column.in_(rows.scalar_subquery())


MAX_RANGES = 8


def id_ranges(ids: list[int]) -> list[tuple[int, int]] | None:
    """``ids`` as at most MAX_RANGES (first, last) runs of consecutive integers, each id in
    exactly one; None when they need more (or there are none)."""
    if not ids:
        return None
    ordered = sorted(ids)
    first = ordered[0]
    if ordered[-1] - first + 1 == len(ordered) and len(set(ordered)) == len(ordered):
        return [(first, ordered[-1])]  # the common case, checked without a loop
    ranges: list[tuple[int, int]] = []
    last = first
    for i in ordered:
        if i > last + 1:
            if len(ranges) == MAX_RANGES - 1:
                return None
            ranges.append((first, last))
            first = i
        last = i
    ranges.append((first, last))
    return ranges
