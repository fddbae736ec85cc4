"""One subscriber as the audience pages show them: profile, lists, what they received, the
events of those messages; and the admin's changes (profile; adding through the importer)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, update

from digest.store import schema as t
from digest.store.csvio import read_subscriber_csv
from digest.store.db import Database
from digest.store.imports import ImportReport, import_subscribers

HISTORY_MAX = 100  # the newest ledger rows and events shown; the rest stays in the database


@dataclass(frozen=True)
class Membership:
    list_name: str
    title: str
    status: str  # active | unsubscribed
    since: datetime
    unsubscribed_at: datetime | None


@dataclass(frozen=True)
class Profile:
    id: int
    email: str
    name: str
    locale: str | None
    timezone: str | None
    created_at: datetime
    suppression: str | None  # the reason, when the address is suppressed
    lists: list[Membership]


@dataclass(frozen=True)
class Received:
    edition_id: str
    subject: str
    status: str
    at: datetime
    delivery_id: int


@dataclass(frozen=True)
class Event:
    kind: str
    edition_id: str | None
    at: datetime | None


def profile(db: Database, subscriber_id: int) -> Profile | None:
    s, m, lst, x = t.subscribers, t.memberships, t.lists, t.suppressions
    with db.read() as conn:
        row = conn.execute(select(s).where(s.c.id == subscriber_id)).first()
        if row is None:
            return None
        reason = conn.scalar(select(x.c.reason).where(x.c.email_key == row.email_key))
        lists = [
            Membership(*r)
            for r in conn.execute(
                select(lst.c.name, lst.c.title, m.c.status, m.c.created_at, m.c.unsubscribed_at)
                .join(lst, lst.c.id == m.c.list_id)
                .where(m.c.subscriber_id == subscriber_id)
                .order_by(lst.c.name)
            )
        ]
    return Profile(
        row.id, row.email, row.name, row.locale, row.timezone, row.created_at, reason, lists
    )


def history(db: Database, subscriber_id: int) -> tuple[list[Received], list[Event]]:
    """Their newest ledger rows and the SendGrid events tied to those rows.

    The ledger has no index on subscriber_id alone (every send would pay to keep one), so the
    join starts from ``editions`` (hundreds of rows) and finds each one's row for this reader
    through the unique (edition_id, subscriber_id) index: one lookup per edition, not a scan
    of millions of ledger rows."""
    d, e, ev = t.deliveries, t.editions, t.events
    with db.read() as conn:
        received = [
            Received(*r)
            for r in conn.execute(
                select(d.c.edition_id, e.c.subject, d.c.status, d.c.updated_at, d.c.id)
                .select_from(e)
                .join(d, and_(d.c.edition_id == e.c.id, d.c.subscriber_id == subscriber_id))
                .order_by(e.c.created_at.desc())
                .limit(HISTORY_MAX)
            )
        ]
        ids = [r.delivery_id for r in received]
        events = (
            [
                Event(*r)
                for r in conn.execute(
                    select(ev.c.kind, ev.c.edition_id, ev.c.occurred_at)
                    .where(ev.c.delivery_id.in_(ids))
                    .order_by(ev.c.occurred_at.desc())
                    .limit(HISTORY_MAX)
                )
            ]
            if ids
            else []
        )
    return received, events


def update_profile(
    db: Database, subscriber_id: int, *, name: str, locale: str | None, timezone: str | None
) -> bool:
    """Name, locale, time zone as given (checked by the caller); True if the row exists."""
    s = t.subscribers
    with db.write() as conn:
        return (
            conn.execute(
                update(s)
                .where(s.c.id == subscriber_id)
                .values(
                    name=name[: t.NAME_MAX],
                    locale=locale,
                    timezone=timezone,
                    updated_at=t.utcnow(),
                )
            ).rowcount
            > 0
        )


def add_one(
    db: Database,
    list_name: str,
    email: str,
    name: str = "",
    *,
    locale: str = "",
    title: str | None = None,
) -> tuple[ImportReport | None, str | None]:
    """One row through the importer: the CSV's checks (a bad address is refused with the
    reason) and the import's consent rules (unsubscribed, suppressed, erased: not added).
    Returns (report, None), or (None, the reason the row was refused)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["email", "name", "locale"])
    writer.writerow([email, name, locale])
    parsed = read_subscriber_csv(buf.getvalue().encode("utf-8"))
    if parsed.rejected:
        return None, parsed.rejected[0].reason
    return import_subscribers(db, list_name, parsed, title=title), None
