"""What readers did, per edition: from the ledger and the events (SendGrid's webhook, and digest's
own open pixel and click redirect for SMTP and outbox sends). Aggregates only, never an address.

Every figure is a SQL aggregate over rows found by index (``deliveries`` by edition, ``events``
by edition), a few queries for a whole page of editions, whatever the size of the list.

- **unique** counts count ledger rows (one per reader and edition), so a reader who opens three
  times counts once; an event without a ledger row (an old SendGrid event) counts alone.
- **opens** leave out machine opens: Apple Mail Privacy Protection fetches every image of every
  message when it arrives, reader or not (SendGrid flags them ``sg_machine_open``; digest flags
  its pixel's fetches by Apple's proxy, see digest/store/tracking.py). They are shown apart.
- **delivered**: the ``delivered`` events when the provider sends them (SendGrid), else the
  ledger's handed-over rows less the bounces (SMTP, outbox: no provider says more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, func, select

from digest.store import schema as t
from digest.store.db import Database

TREND = 30  # editions per list on the statistics page
CATEGORIES = {
    "delivered": ("delivered",),
    "click": ("click",),
    "unsubscribe": ("unsubscribe", "group_unsubscribe"),
    "bounce": ("bounce", "dropped"),
    "complaint": ("spamreport",),
}


@dataclass(frozen=True)
class Figures:
    edition_id: str
    list_name: str
    subject: str
    sent_at: datetime | None  # when its send started
    sent: int  # ledger rows handed over to the backend
    failed: int  # ledger rows the backend refused
    delivered: int
    opens: int  # unique readers, machine opens left out
    machine_opens: int  # unique ledger rows with a machine open
    clicks: int  # unique readers who clicked
    total_clicks: int
    unsubscribes: int
    bounces: int
    complaints: int

    @property
    def click_through(self) -> float | None:
        """Unique clicks / delivered (None before anything was delivered)."""
        return self.clicks / self.delivered if self.delivered else None

    @property
    def open_rate(self) -> float | None:
        return self.opens / self.delivered if self.delivered else None


@dataclass(frozen=True)
class LinkClicks:
    url: str
    clicks: int
    unique: int


def _category():
    e = t.events
    whens: list[tuple[Any, str]] = [((e.c.kind == "open") & e.c.machine.is_(True), "machine_open")]
    whens.append((e.c.kind == "open", "open"))
    whens += [(e.c.kind.in_(kinds), name) for name, kinds in CATEGORIES.items()]
    return case(*whens, else_=None)


def _event_counts(conn, edition_ids: Sequence[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """{edition: {category: (unique, total)}}: one grouped query."""
    e = t.events
    category = _category().label("category")
    nulls = func.sum(cast(e.c.delivery_id.is_(None), Integer))
    stmt = (
        select(
            e.c.edition_id, category, func.count(e.c.delivery_id.distinct()), nulls, func.count()
        )
        .where(e.c.edition_id.in_(edition_ids))
        .group_by(e.c.edition_id, category)
    )
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for edition_id, cat, distinct, without_row, total in conn.execute(stmt):
        if cat is not None:
            out.setdefault(edition_id, {})[cat] = (
                int(distinct) + int(without_row or 0),
                int(total),
            )
    return out


# A finished send's ledger counts, by (edition, status, finished_at): they change only with
# another run (a retry, a resend), which sets a new finished_at. Counting 30 editions of 100,000
# readers reads 3,000,000 ledger rows (about a second on SQLite); a page shown again reads none.
# Events keep arriving for days after a send, so they are always counted afresh.
_FINISHED: dict[tuple, dict[str, int]] = {}
_FINISHED_MAX = 4096
FINAL = ("sent", "cancelled", "failed")


def _ledger_counts(conn, editions: Sequence) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    todo = []
    where = conn.engine.url.render_as_string(hide_password=True)
    for row in editions:
        key = (where, row.id, row.status, row.finished_at)
        if key in _FINISHED:
            out[row.id] = _FINISHED[key]
        else:
            todo.append(row.id)
    if todo:
        d = t.deliveries
        stmt = (
            select(d.c.edition_id, d.c.status, func.count())
            .where(d.c.edition_id.in_(todo))
            .group_by(d.c.edition_id, d.c.status)
        )
        for edition_id, status, n in conn.execute(stmt):
            out.setdefault(edition_id, {})[status] = int(n)
    for row in editions:
        if row.status in FINAL and row.finished_at is not None and row.id in todo:
            if len(_FINISHED) >= _FINISHED_MAX:
                _FINISHED.clear()
            _FINISHED[(where, row.id, row.status, row.finished_at)] = out.get(row.id, {})
    return out


def _figures(conn, editions: Sequence) -> list[Figures]:
    ids = [row.id for row in editions]
    if not ids:
        return []
    events, ledger = _event_counts(conn, ids), _ledger_counts(conn, editions)
    out = []
    for row in editions:
        ev, led = events.get(row.id, {}), ledger.get(row.id, {})

        def unique(cat: str, ev=ev) -> int:
            return ev.get(cat, (0, 0))[0]

        sent = led.get("sent", 0)
        delivered = unique("delivered") or max(0, sent - unique("bounce"))
        out.append(
            Figures(
                edition_id=row.id,
                list_name=row.name,
                subject=row.subject,
                sent_at=row.started_at,
                sent=sent,
                failed=led.get("failed", 0),
                delivered=delivered,
                opens=unique("open"),
                machine_opens=unique("machine_open"),
                clicks=unique("click"),
                total_clicks=ev.get("click", (0, 0))[1],
                unsubscribes=unique("unsubscribe"),
                bounces=unique("bounce"),
                complaints=unique("complaint"),
            )
        )
    return out


def _editions():
    e, lists = t.editions, t.lists
    return select(
        e.c.id, lists.c.name, e.c.subject, e.c.started_at, e.c.status, e.c.finished_at
    ).join(lists, lists.c.id == e.c.list_id)


def edition_figures(db: Database, edition_id: str) -> Figures | None:
    """One edition's figures, or None when there is no such edition."""
    with db.read() as conn:
        rows = conn.execute(_editions().where(t.editions.c.id == edition_id)).all()
        found = _figures(conn, rows)
    return found[0] if found else None


def trend(db: Database, list_name: str, limit: int = TREND) -> list[Figures]:
    """The list's last ``limit`` editions that were sent (or started), oldest first."""
    e = t.editions
    stmt = (
        _editions()
        .where(t.lists.c.name == list_name, e.c.started_at.is_not(None))
        .order_by(e.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
        return list(reversed(_figures(conn, rows)))


def list_names(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.scalars(select(t.lists.c.name).order_by(t.lists.c.name)))


def link_clicks(db: Database, edition_id: str) -> list[LinkClicks]:
    """Clicks per link of one edition, the most clicked first."""
    e = t.events
    nulls = func.sum(cast(e.c.delivery_id.is_(None), Integer))
    distinct = func.count(e.c.delivery_id.distinct())
    stmt = (
        select(e.c.url, func.count(), distinct, nulls)
        .where(e.c.edition_id == edition_id, e.c.kind == "click", e.c.url.is_not(None))
        .group_by(e.c.url)
        .order_by(func.count().desc(), e.c.url)
    )
    with db.read() as conn:
        return [
            LinkClicks(url, int(total), int(d) + int(n or 0))
            for url, total, d, n in conn.execute(stmt)
        ]
