"""Subscribers, lists and suppressions in the database.

Consent rules this module enforces (documented for people in subscribers/FORMAT.md):

* An unsubscribed membership is kept, not deleted, and an import never reactivates it.
* A globally suppressed address (unsubscribe from all lists, bounce, spam report) is never
  sent to (the send ledger skips it, digest/store/ledger.py), and an import skips it.
* Empty cells never erase what is stored: a file without names does not wipe names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import IO, NamedTuple

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from digest.errors import StoreError
from digest.models import Subscriber
from digest.store import schema as t
from digest.store.csvformats import OPT_OUT, SUPPRESS
from digest.store.csvio import (
    REPORT_MAX,
    CsvResult,
    CsvRow,
    CsvStream,
    Rejected,
    email_key,
    write_subscriber_csv,
)
from digest.store.db import Database
from digest.store.suppressions import (
    is_suppressed,
    suppress,
    suppressed_clause,
    unsuppress,
)
from digest.store.suppressions import record as record_suppression

# suppress, unsuppress and is_suppressed live in digest.store.suppressions and are part of
# this module's API too: callers think of opting out as something done to subscribers.

# Rows per round trip. Keeps every IN (...) well under SQLite's bound-parameter limit (999 on
# old builds) while 100k rows still take only ~200 batches.
CHUNK = 500


@dataclass
class ImportReport:
    """What an import did. Every CSV row lands in exactly one of the counts below."""

    list_name: str
    created_list: bool = False
    added: int = 0  # now an active member of the list (new address, or new to this list)
    updated: int = 0  # already an active member; name, locale or time zone changed
    unchanged: int = 0  # already an active member; nothing to change
    skipped_unsubscribed: int = 0  # left this list earlier: not resubscribed, not touched
    skipped_suppressed: int = 0  # globally suppressed: not added, not touched
    opted_out: int = 0  # the file says they left (Mailchimp unsubscribed...): kept unsubscribed
    suppressed: int = 0  # the file says never mail (Mailchimp cleaned, listmonk blocklisted)
    rejected: list[Rejected] = field(default_factory=list)  # from the CSV: invalid rows
    merged: int = 0  # repeated addresses inside the file (the first row won)
    notes: list[str] = field(default_factory=list)
    warnings: list[Rejected] = field(default_factory=list)  # imported, one value dropped
    formats: list[str] = field(default_factory=list)  # per file: what it was recognised as
    rejected_count: int = 0  # all rejected rows; ``rejected`` keeps the first REPORT_MAX

    @property
    def rows(self) -> int:
        return (self.added + self.updated + self.unchanged + self.skipped_unsubscribed
                + self.skipped_suppressed + self.opted_out + self.suppressed)

    @property
    def total_rejected(self) -> int:
        return max(self.rejected_count, len(self.rejected))

    def add_file(self, result: CsvResult) -> None:
        room = max(0, REPORT_MAX - len(self.rejected))
        self.rejected.extend(result.rejected[:room])
        self.rejected_count += result.total_rejected
        self.warnings.extend(result.warnings[:max(0, REPORT_MAX - len(self.warnings))])
        self.merged += result.total_merged
        prefix = f"{result.source}: " if result.source else ""
        self.notes.extend(prefix + note for note in result.notes)
        self.formats.append(prefix + result.format)


@dataclass(frozen=True)
class Member:
    id: int
    email: str
    name: str
    locale: str | None
    status: str  # "active", "unsubscribed", or "suppressed" (active here, suppressed globally)
    subscribed_at: datetime
    unsubscribed_at: datetime | None


class ListInfo(NamedTuple):
    name: str
    title: str
    active_count: int  # members who would receive the next edition


# --------------------------------------------------------------------------- lists


def lists(db: Database) -> list[ListInfo]:
    """Every list with its number of active, unsuppressed members, by name."""
    m, s = t.memberships, t.subscribers
    active = (
        select(m.c.list_id, func.count().label("n"))
        .join(s, s.c.id == m.c.subscriber_id)
        .where(m.c.status == "active", ~suppressed_clause(s.c.email_key))
        .group_by(m.c.list_id)
        .subquery()
    )
    stmt = (
        select(t.lists.c.name, t.lists.c.title, func.coalesce(active.c.n, 0))
        .outerjoin(active, active.c.list_id == t.lists.c.id)
        .order_by(t.lists.c.name)
    )
    with db.read() as conn:
        return [ListInfo(name, title, int(n)) for name, title, n in conn.execute(stmt)]


def ensure_list(db: Database, name: str, title: str | None = None) -> bool:
    """Create the list if it does not exist; True if it was created."""
    with db.write() as conn:
        return _get_or_create_list(conn, _check_list_name(name), title, t.utcnow())[1]


def _check_list_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > t.LIST_NAME_MAX or any(ord(c) < 32 for c in cleaned):
        raise StoreError(f"{name!r} is not a usable list name: give 1 to {t.LIST_NAME_MAX} "
                         "characters on one line")
    return cleaned


def _list_id(conn: Connection, name: str) -> int:
    list_id = conn.scalar(select(t.lists.c.id).where(t.lists.c.name == name))
    if list_id is None:
        known = conn.scalars(select(t.lists.c.name).order_by(t.lists.c.name).limit(20)).all()
        hint = f"known lists: {', '.join(known)}" if known else "there are no lists yet"
        raise StoreError(f"there is no subscriber list named {name!r} ({hint}); "
                         "importing a CSV with --list creates one")
    return list_id


def _get_or_create_list(conn: Connection, name: str, title: str | None,
                        now: datetime) -> tuple[int, bool]:
    list_id = conn.scalar(select(t.lists.c.id).where(t.lists.c.name == name))
    if list_id is not None:
        return list_id, False
    title = (title or name)[:t.max_length(t.lists.c.title)]  # a long --title must not crash PostgreSQL
    result = conn.execute(insert(t.lists).values(name=name, title=title, created_at=now))
    key = result.inserted_primary_key
    assert key is not None  # a single-row INSERT always reports the key it made
    return key[0], True


# --------------------------------------------------------------------------- import


def import_subscribers(db: Database, list_name: str,
                       source: CsvResult | CsvStream | Sequence[CsvStream], *,
                       title: str | None = None) -> ImportReport:
    """Add the rows of ``source`` to ``list_name`` (created if needed, titled ``title``).

    ``source`` is a parsed ``CsvResult`` or, for files of any size, the streams of
    ``csvio.open_subscriber_files`` (read here, ``CHUNK`` rows at a time, never held whole).
    One transaction: a failure, including a file found unusable half-way, leaves the database
    as it was. Each chunk is done with set-based statements (one SELECT per table per chunk,
    executemany for writes), never a query per row.
    """
    name = _check_list_name(list_name)
    if isinstance(source, CsvResult):
        files: list[tuple[CsvResult, Iterable[CsvRow]]] = [(source, source.rows)]
    else:
        streams = [source] if isinstance(source, CsvStream) else list(source)
        files = [(stream.result, stream) for stream in streams]
    report = ImportReport(list_name=name)
    now = t.utcnow()
    try:
        with db.write() as conn:
            list_id, report.created_list = _get_or_create_list(conn, name, title, now)
            for result, rows in files:
                # csvio merges repeated addresses of a stream itself; a hand-built CsvResult
                # is checked here, across chunks.
                seen: set[str] | None = set() if isinstance(source, CsvResult) else None
                batches = iter(rows)
                while chunk := list(islice(batches, CHUNK)):
                    _import_chunk(conn, list_id, chunk, now, report, seen,
                                  result.suppression_reason)
                report.add_file(result)
    except IntegrityError as exc:
        # Only reachable when another process imported the same new addresses concurrently
        # (PostgreSQL); the transaction rolled back, so running it again is safe.
        raise StoreError(f"the import into {name!r} collided with a concurrent change and was "
                         f"rolled back; run it again ({exc.orig})") from None
    return report


def _import_chunk(conn: Connection, list_id: int, chunk: list[CsvRow], now: datetime,
                  report: ImportReport, seen: set[str] | None, reason: str) -> None:
    s, m = t.subscribers, t.memberships
    by_key: dict[str, CsvRow] = {}
    for row in chunk:
        key = row.email.lower()
        if key in by_key or (seen is not None and key in seen):
            report.merged += 1
            continue
        if seen is not None:
            seen.add(key)
        by_key[key] = row
    keys = list(by_key)

    suppressed_keys = set(conn.scalars(
        select(t.suppressions.c.email_key).where(t.suppressions.c.email_key.in_(keys))))
    existing = {r.email_key: r for r in conn.execute(
        select(s.c.id, s.c.email_key, s.c.name, s.c.locale, s.c.timezone)
        .where(s.c.email_key.in_(keys)))}
    status: dict[int, str] = {}
    if existing:
        status = dict(conn.execute(
            select(m.c.subscriber_id, m.c.status).where(
                m.c.list_id == list_id,
                m.c.subscriber_id.in_([r.id for r in existing.values()]))).all())

    new_subscribers, changes, new_suppressions = [], [], []
    join: dict[str, list[str]] = {"active": [], "unsubscribed": []}
    leaving: list[int] = []  # active members the file says left
    for key, row in by_key.items():
        if row.action == SUPPRESS:
            # Mailchimp "cleaned", listmonk "blocklisted": never mailed, on any list.
            if key not in suppressed_keys:
                new_suppressions.append({"email_key": key, "reason": reason,
                                         "source": "import", "created_at": now})
            report.suppressed += 1
            continue
        if key in suppressed_keys:
            report.skipped_suppressed += 1
            continue
        old = existing.get(key)
        if old is None:
            new_subscribers.append({"email": row.email, "email_key": key, "name": row.name,
                                    "locale": row.locale, "timezone": row.timezone,
                                    "created_at": now, "updated_at": now})
            if row.action == OPT_OUT:
                join["unsubscribed"].append(key)
                report.opted_out += 1
            else:
                join["active"].append(key)
                report.added += 1
            continue
        if row.action == OPT_OUT:
            # The person left (on the old tool): record it here too, whatever this list says;
            # the stored name and time zone are left as they are.
            if old.id not in status:
                join["unsubscribed"].append(key)
            elif status[old.id] == "active":
                leaving.append(old.id)
            report.opted_out += 1
            continue
        if status.get(old.id) == "unsubscribed":
            report.skipped_unsubscribed += 1  # consent: only the person can resubscribe
            continue
        # Empty cells keep the stored value; the stored address keeps its original spelling.
        values = (row.name or old.name, row.locale or old.locale, row.timezone or old.timezone)
        changed = values != (old.name, old.locale, old.timezone)
        if changed:
            changes.append({"b_id": old.id, "b_name": values[0], "b_locale": values[1],
                            "b_timezone": values[2], "b_now": now})
        if old.id not in status:
            join["active"].append(key)
            report.added += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1

    if new_suppressions:
        conn.execute(insert(t.suppressions), new_suppressions)
    if new_subscribers:
        conn.execute(insert(s), new_subscribers)
    if changes:
        conn.execute(
            update(s).where(s.c.id == bindparam("b_id")).values(
                name=bindparam("b_name"), locale=bindparam("b_locale"),
                timezone=bindparam("b_timezone"), updated_at=bindparam("b_now")),
            changes,
        )
    if leaving:
        conn.execute(update(m).where(m.c.list_id == list_id, m.c.subscriber_id.in_(leaving),
                                     m.c.status == "active")
                     .values(status="unsubscribed", unsubscribed_at=now, updated_at=now))
    for member_status, join_keys in join.items():
        if not join_keys:
            continue
        left_at = now if member_status == "unsubscribed" else None
        # INSERT ... SELECT: the new ids never travel back to Python, and the constant columns
        # are bound once per chunk instead of once per row.
        conn.execute(insert(m).from_select(
            ["list_id", "subscriber_id", "status", "created_at", "unsubscribed_at",
             "updated_at"],
            select(literal(list_id, Integer), s.c.id, literal(member_status),
                   literal(now, t.UtcDateTime), literal(left_at, t.UtcDateTime),
                   literal(now, t.UtcDateTime))
            .where(s.c.email_key.in_(join_keys)),
        ))


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
    stmt = (
        select(*(func.coalesce(func.sum(case((bucket, 1), else_=0)), 0) for bucket in buckets))
        .select_from(m.join(s, s.c.id == m.c.subscriber_id)
                     .outerjoin(x, x.c.email_key == s.c.email_key))
    )
    with db.read() as conn:
        active, unsubscribed, suppressed_count = conn.execute(
            stmt.where(m.c.list_id == _list_id(conn, list_name))).one()
    return {"active": int(active), "unsubscribed": int(unsubscribed),
            "suppressed": int(suppressed_count)}


def list_members(db: Database, list_name: str) -> list[Member]:
    """Every member of the list, whatever their status, by id. Loads them all: for display
    and small lists; ``export_subscribers`` streams instead."""
    return [member for batch in _iter_members(db, list_name) for member in batch]


def export_subscribers(db: Database, list_name: str, out: str | os.PathLike | IO, *,
                       bom: bool = False) -> int:
    """Write the list as CSV (email,name,locale,status), streaming; return the row count.

    Unsubscribed and suppressed members are included with their status, so re-importing the
    export (even into another list) does not subscribe them again.
    """
    batches = _iter_members(db, list_name)  # resolves the list before the file is touched
    return write_subscriber_csv((m for batch in batches for m in batch), out, bom=bom)


def _iter_members(db: Database, list_name: str, batch_size: int = 1000
                  ) -> Iterator[list[Member]]:
    with db.read() as conn:
        list_id = _list_id(conn, list_name)
    return _member_batches(db, list_id, batch_size)


def _member_batches(db: Database, list_id: int, batch_size: int) -> Iterator[list[Member]]:
    s, m = t.subscribers, t.memberships
    base = (
        select(s.c.id, s.c.email, s.c.name, s.c.locale, _effective_status().label("status"),
               m.c.created_at, m.c.unsubscribed_at)
        .join(m, m.c.subscriber_id == s.c.id)
        .where(m.c.list_id == list_id)
    )
    for rows in _keyset(db, base, m.c.subscriber_id, batch_size):
        yield [Member(r.id, r.email, r.name, r.locale, r.status, r.created_at,
                      r.unsubscribed_at) for r in rows]


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


def unsubscribe(db: Database, email: str, list_name: str | None = None, *,
                source: str | None = None) -> int:
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
            .where(m.c.subscriber_id == select(s.c.id).where(s.c.email_key == key)
                   .scalar_subquery(), m.c.status == "active")
            .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
        )
        if list_name is not None:
            stmt = stmt.where(m.c.list_id == _list_id(conn, list_name))
        changed = conn.execute(stmt).rowcount
        if list_name is None:
            record_suppression(conn, key, "unsubscribe", source, now)
    return changed


__all__ = [
    "ImportReport", "ListInfo", "Member", "count_members", "ensure_list", "export_subscribers",
    "get_subscriber", "import_subscribers", "is_suppressed", "list_members",
    "lists", "suppress", "unsubscribe", "unsuppress",
]
