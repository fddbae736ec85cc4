"""Subscribers, lists and suppressions in the database.

Consent rules this module enforces (documented for people in subscribers/FORMAT.md):

* An unsubscribed membership is kept, not deleted, and an import never reactivates it.
* A globally suppressed address (unsubscribe from all lists, bounce, spam report) is never
  sent to (the send ledger skips it, digest/store/ledger.py), and an import skips it.
* Empty cells never erase what is stored: a file without names does not wipe names.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import (
    Row,
    and_,
    case,
    func,
    select,
    update,
)

from digest.models import Subscriber
from digest.normalize import email_key
from digest.store import schema as t
from digest.store.csvexport import EXPORT_HEADER
from digest.store.csvio import (
    write_subscriber_csv,
)
from digest.store.db import Database
from digest.store.imports import ImportReport, import_subscribers
from digest.store.lists import (
    ListInfo,
    ensure_list,
    list_row_id,
    lists,
)
from digest.store.suppressions import (
    is_suppressed,
    suppress,
    suppressed_clause,
    unsuppress,
)
from digest.store.suppressions import record as record_suppression

# suppress, unsuppress and is_suppressed live in digest.store.suppressions and are part of
# this module's API too: callers think of opting out as something done to subscribers.


@dataclass(frozen=True)
class Member:
    id: int
    email: str
    name: str
    locale: str | None
    status: str  # "active", "unsubscribed", or "suppressed" (active here, suppressed globally)
    subscribed_at: datetime
    unsubscribed_at: datetime | None


# --------------------------------------------------------------------------- lists


# --------------------------------------------------------------------------- import


# --------------------------------------------------------------------------- reading


def _keyset(db: Database, base, key, batch_size: int) -> Iterator[Sequence[Row]]:
    """Rows of ``base`` ordered by ``key``, ``batch_size`` at a time, each batch its own short
    read (``key > last``): no transaction stays open while the caller works on a batch."""
    base = base.order_by(key).limit(batch_size)
    last = None
    while True:
        stmt = base if last is None else base.where(key > last)
        with db.read() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        last = rows[-1].id


def count_members(db: Database, list_name: str) -> dict[str, int]:
    """``active`` (would receive), ``unsubscribed`` (left this list) and ``suppressed``
    (still on the list but globally suppressed). Disjoint: they add up to all members."""
    m, s, x = t.memberships, t.subscribers, t.suppressions
    is_active = m.c.status == "active"
    buckets = (
        and_(is_active, x.c.email_key.is_(None)),
        m.c.status == "unsubscribed",
        and_(is_active, x.c.email_key.is_not(None)),
    )
    # One pass over the list's memberships; the outer join finds each suppression once.
    stmt = select(
        *(func.coalesce(func.sum(case((bucket, 1), else_=0)), 0) for bucket in buckets)
    ).select_from(
        m.join(s, s.c.id == m.c.subscriber_id).outerjoin(x, x.c.email_key == s.c.email_key)
    )
    with db.read() as conn:
        active, unsubscribed, suppressed_count = conn.execute(
            stmt.where(m.c.list_id == list_row_id(conn, list_name))
        ).one()
    return {
        "active": int(active),
        "unsubscribed": int(unsubscribed),
        "suppressed": int(suppressed_count),
    }


def list_members(db: Database, list_name: str) -> list[Member]:
    """Every member of the list, whatever their status, by id. Loads them all: for display
    and small lists; ``export_subscribers`` streams instead."""
    return [member for batch in _iter_members(db, list_name) for member in batch]


def export_subscribers(
    db: Database, list_name: str, out: str | os.PathLike | IO, *, bom: bool = False
) -> int:
    """Write the list as CSV (email,name,locale,status), streaming; return the row count.

    Unsubscribed and suppressed members are included with their status, so re-importing the
    export (even into another list) does not subscribe them again.
    """
    batches = _iter_members(db, list_name)  # resolves the list before the file is touched
    return write_subscriber_csv((m for batch in batches for m in batch), out, bom=bom)


def export_stream(db: Database, list_name: str, *, bom: bool = False) -> Iterator[str]:
    """The same CSV as ``export_subscribers``, as text chunks of ~1000 rows, for a download
    that streams (the web app's export). The list is resolved before the first chunk, so an
    unknown list raises here, not half-way through a response."""
    batches = _iter_members(db, list_name)
    header = ",".join(EXPORT_HEADER) + "\r\n"

    def chunks() -> Iterator[str]:
        buf = io.StringIO()
        write_subscriber_csv([], buf, bom=bom)
        yield buf.getvalue()
        for batch in batches:
            buf = io.StringIO()
            write_subscriber_csv(batch, buf)
            yield buf.getvalue()[len(header) :]  # each call writes the header again

    return chunks()


def _iter_members(db: Database, list_name: str, batch_size: int = 1000) -> Iterator[list[Member]]:
    with db.read() as conn:
        list_id = list_row_id(conn, list_name)
    return _member_batches(db, list_id, batch_size)


def _member_batches(db: Database, list_id: int, batch_size: int) -> Iterator[list[Member]]:
    s, m = t.subscribers, t.memberships
    base = (
        select(
            s.c.id,
            s.c.email,
            s.c.name,
            s.c.locale,
            _effective_status().label("status"),
            m.c.created_at,
            m.c.unsubscribed_at,
        )
        .join(m, m.c.subscriber_id == s.c.id)
        .where(m.c.list_id == list_id)
    )
    for rows in _keyset(db, base, m.c.subscriber_id, batch_size):
        yield [
            Member(r.id, r.email, r.name, r.locale, r.status, r.created_at, r.unsubscribed_at)
            for r in rows
        ]


def get_subscriber(db: Database, subscriber_id: int) -> Subscriber | None:
    s = t.subscribers
    with db.read() as conn:
        row = conn.execute(
            select(s.c.id, s.c.email, s.c.name, s.c.locale).where(s.c.id == subscriber_id)
        ).first()
    return None if row is None else Subscriber(row.id, row.email, row.name, row.locale)


def _effective_status():
    # Needs memberships and subscribers in the FROM clause of the enclosing query.
    return case(
        (t.memberships.c.status == "unsubscribed", "unsubscribed"),
        (suppressed_clause(t.subscribers.c.email_key), "suppressed"),
        else_="active",
    )


# --------------------------------------------------------------------------- opting out


def unsubscribe(
    db: Database, email: str, list_name: str | None = None, *, source: str | None = None
) -> int:
    """Unsubscribe ``email`` from one list, or from every list when ``list_name`` is None.

    Returns how many memberships changed (0 when already unsubscribed or unknown: idempotent,
    and it does not tell a caller whether an address is known). "All lists" also records a
    global suppression (reason "unsubscribe"): the person asked for no more mail, so lists
    created or imported later must not mail them either.
    """
    key = email_key(email)
    now = t.utcnow()
    m, s = t.memberships, t.subscribers
    with db.write() as conn:
        stmt = (
            update(m)
            .where(
                m.c.subscriber_id == select(s.c.id).where(s.c.email_key == key).scalar_subquery(),
                m.c.status == "active",
            )
            .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
        )
        if list_name is not None:
            stmt = stmt.where(m.c.list_id == list_row_id(conn, list_name))
        changed = conn.execute(stmt).rowcount
        if list_name is None:
            record_suppression(conn, key, "unsubscribe", source, now)
    return changed


__all__ = [
    "ImportReport",
    "ListInfo",
    "Member",
    "count_members",
    "ensure_list",
    "export_stream",
    "export_subscribers",
    "get_subscriber",
    "import_subscribers",
    "is_suppressed",
    "list_members",
    "lists",
    "suppress",
    "unsubscribe",
    "unsuppress",
]
