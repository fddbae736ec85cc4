"""Readers' time zones as the ledger sees them, and what a send records about its deadline.

A subscriber without a zone (``subscribers.timezone`` NULL) counts as being in the site's zone:
callers pass that zone as ``default``. Used by local-time schedules (one edition, one ledger,
each zone's rows sent at that zone's moment) and by the delivery deadline.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.sql.elements import ColumnElement

from digest.store import schema as t
from digest.store.db import Database


def reader_zone(default: str) -> ColumnElement:
    """The zone a subscriber row counts in (the site's when it has none)."""
    return func.coalesce(t.subscribers.c.timezone, default)


def in_zones(zones: Collection[str], default: str) -> ColumnElement:
    """A WHERE clause on a query that joins ``subscribers``: readers in one of ``zones``."""
    return reader_zone(default).in_(sorted(zones))


def member_zones(db: Database, list_name: str, default: str) -> list[str]:
    """The distinct zones of a list's active members (what a local-time schedule fires for)."""
    s, m, lists = t.subscribers, t.memberships, t.lists
    zone = reader_zone(default)
    with db.read() as conn:
        return sorted(
            conn.scalars(
                select(zone)
                .distinct()
                .join(m, m.c.subscriber_id == s.c.id)
                .join(lists, lists.c.id == m.c.list_id)
                .where(lists.c.name == list_name, m.c.status == "active")
            )
        )


def pending_by_zone(db: Database, edition_id: str, default: str) -> dict[str, int]:
    """{zone: ledger rows still pending or sending} for one edition."""
    d, s = t.deliveries, t.subscribers
    zone = reader_zone(default)
    with db.read() as conn:
        rows = conn.execute(
            select(zone, func.count())
            .join(s, s.c.id == d.c.subscriber_id)
            .where(d.c.edition_id == edition_id, d.c.status.in_(("pending", "sending")))
            .group_by(zone)
        ).all()
    return {z: n for z, n in rows}


def recent_rate(db: Database, list_name: str, backend: str, *, before: str) -> float | None:
    """The send rate (messages a second) the latest earlier edition of this list and backend
    measured, or None."""
    e, lists = t.editions, t.lists
    with db.read() as conn:
        return conn.scalar(
            select(e.c.send_rate)
            .join(lists, lists.c.id == e.c.list_id)
            .where(
                lists.c.name == list_name,
                e.c.backend == backend,
                e.c.id != before,
                e.c.send_rate.is_not(None),
            )
            .order_by(e.c.created_at.desc())
            .limit(1)
        )


def record_deadline(
    db: Database,
    edition_id: str,
    *,
    deadline_at: datetime | None,
    rate: float | None,
    missed: str | None,
) -> None:
    """After a run: its deadline, the rate it measured (when it sent enough to tell) and, if it
    finished late, the sentence that says so (a later run on time does not erase it)."""
    values: dict[str, object] = {}
    if deadline_at is not None:
        values["deadline_at"] = deadline_at
    if rate is not None:
        values["send_rate"] = rate
    if missed is not None:
        values["deadline_missed"] = missed
    if not values:
        return
    with db.write() as conn:
        conn.execute(update(t.editions).where(t.editions.c.id == edition_id).values(**values))


def deadline_missed(db: Database, edition_id: str) -> str | None:
    with db.read() as conn:
        return conn.scalar(
            select(t.editions.c.deadline_missed).where(t.editions.c.id == edition_id)
        )
