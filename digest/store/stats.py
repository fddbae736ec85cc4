"""Counts for monitoring (``/healthz``, ``/metrics``): aggregates only, never an address.

Every function is one or two aggregate queries, cheap enough to run on each scrape, and works
across processes: the scheduler and the web app are separate, so what they did is read from the
database rather than kept in one process's memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, inspect, select, text

from digest.store import schema as t
from digest.store.db import Database


def ping(db: Database) -> None:
    """Raises (SQLAlchemy's error) unless the database answers a query."""
    with db.read() as conn:
        conn.execute(text("SELECT 1"))


def missing_tables(db: Database) -> list[str]:
    """The tables digest needs that the database lacks (empty when the schema is in place)."""
    with db.read() as conn:
        present = set(inspect(conn).get_table_names())
    return sorted(set(t.metadata.tables) - present)


def message_counts(db: Database) -> list[tuple[str, str, str, int]]:
    """(list, backend, status, rows) over the whole send ledger."""
    d, e, lists = t.deliveries, t.editions, t.lists
    stmt = (
        select(lists.c.name, e.c.backend, d.c.status, func.count())
        .select_from(d.join(e, e.c.id == d.c.edition_id).join(lists, lists.c.id == e.c.list_id))
        .group_by(lists.c.name, e.c.backend, d.c.status)
    )
    with db.read() as conn:
        return [
            (name, backend or "none", status, int(n))
            for name, backend, status, n in conn.execute(stmt)
        ]


def event_counts(db: Database) -> dict[str, int]:
    """{kind: events received} over all webhook events (they are never deleted)."""
    e = t.events
    with db.read() as conn:
        return {
            kind: int(n)
            for kind, n in conn.execute(select(e.c.kind, func.count()).group_by(e.c.kind))
        }


def send_durations(db: Database) -> dict[str, tuple[int, float]]:
    """{list: (sent editions, total seconds from first claim to finish)}."""
    e, lists = t.editions, t.lists
    stmt = (
        select(lists.c.name, e.c.started_at, e.c.finished_at)
        .join(lists, lists.c.id == e.c.list_id)
        .where(e.c.status == "sent", e.c.started_at.is_not(None), e.c.finished_at.is_not(None))
    )
    out: dict[str, tuple[int, float]] = {}
    with db.read() as conn:
        for name, started, finished in conn.execute(stmt):
            n, total = out.get(name, (0, 0.0))
            out[name] = (n + 1, total + max(0.0, (finished - started).total_seconds()))
    return out


@dataclass(frozen=True)
class LatestEdition:
    list_name: str
    id: str
    status: str
    needs_approval: bool
    approved: bool
    created_at: datetime
    finished_at: datetime | None
    build_seconds: float | None  # None for editions stored before it was recorded
    sources: tuple[tuple[str, bool], ...]  # (source name, fetched and read without error)


def latest_editions(db: Database) -> list[LatestEdition]:
    """The newest edition of each list (ids are <list>-YYYY-MM-DD, so the largest is the
    latest day), with what its stored edition JSON says about its build."""
    e, lists = t.editions, t.lists
    newest = select(e.c.list_id, func.max(e.c.id).label("id")).group_by(e.c.list_id).subquery()
    stmt = (
        select(
            lists.c.name,
            e.c.id,
            e.c.status,
            e.c.needs_approval,
            e.c.approved_at,
            e.c.created_at,
            e.c.finished_at,
            e.c.edition_json,
        )
        .join(newest, newest.c.id == e.c.id)
        .join(lists, lists.c.id == e.c.list_id)
        .order_by(lists.c.name)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        data = json.loads(r.edition_json)
        seconds = data.get("build_seconds")
        out.append(
            LatestEdition(
                list_name=r.name,
                id=r.id,
                status=r.status,
                needs_approval=r.needs_approval,
                approved=r.approved_at is not None,
                created_at=r.created_at,
                finished_at=r.finished_at,
                build_seconds=float(seconds) if isinstance(seconds, int | float) else None,
                sources=tuple(
                    (str(s.get("name", "")), bool(s.get("ok")))
                    for s in data.get("sources", ())
                    if isinstance(s, dict)
                ),
            )
        )
    return out
