"""The audience page's reads: find subscribers among a million, and page through suppressions.

The database does the work; Python only ever sees one page of rows (``LIMIT page + 1``, the
extra row saying whether there is a next page). Pages are keysets (``after`` = the last row's
sort key), so page 500 costs what page 1 does, and the count is capped (``COUNT_CAP``).

The plans, on SQLite and PostgreSQL alike:

* no query: ``subscribers`` (or one list's ``memberships``) in id order from ``after``: the
  primary key's b-tree (memberships' is (list_id, subscriber_id), WITHOUT ROWID on SQLite).
* a query with "@" (an address, or its start): a prefix range on ``email_key``
  (``email_key >= q AND email_key < q'`` where q' is q with its last character raised), which
  reads the unique index on email_key from q and stops after a page. A range, not LIKE 'q%':
  SQLite's LIKE is case-insensitive and so cannot use a BINARY index, and PostgreSQL's LIKE
  needs a text_pattern_ops index under a non-C collation. ``substr(email_key, 1, n) = q`` is
  added so the match is exact under any collation; the range only narrows the index scan.
* any other query (a name or a part of an address): ``email_key`` prefix OR name/address
  containing it, as a scan in id order that stops at the first page of matches (LIMIT). A
  contains-match has no b-tree index; a common word fills its page at once, and only a query
  matching almost no one reads the whole table (~a second on a million rows). pg_trgm would
  index it on PostgreSQL, at the cost of an extension and a slower import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from digest.store import schema as t
from digest.store.db import Database
from digest.store.lists import list_row_id

PAGE = 50
COUNT_CAP = 1000  # "1000+" beyond: an exact count of a million rows is a full scan


@dataclass(frozen=True)
class Found:
    id: int
    email: str
    name: str
    locale: str | None
    timezone: str | None


@dataclass(frozen=True)
class Page:
    rows: list
    next_after: str | None  # the ``after`` of the next page, None on the last one
    count: int  # matches, up to COUNT_CAP
    capped: bool  # more than COUNT_CAP matched


def _prefix_range(column, q: str):
    exact = func.substr(column, 1, len(q)) == q
    if ord(q[-1]) >= 0x10FFFF:  # no character above it: the range has no upper end
        return and_(column >= q, exact)
    return and_(column >= q, column < q[:-1] + chr(ord(q[-1]) + 1), exact)


def search_subscribers(
    db: Database,
    q: str = "",
    *,
    list_name: str | None = None,
    after: str | None = None,
    page: int = PAGE,
) -> Page:
    """One page of subscribers matching ``q`` (address or name), on ``list_name`` if given."""
    s, m = t.subscribers, t.memberships
    q = (q or "").strip().lower()[: t.EMAIL_MAX]
    stmt = select(s.c.id, s.c.email, s.c.name, s.c.locale, s.c.timezone)
    by_email = "@" in q
    if by_email:
        where = _prefix_range(s.c.email_key, q)
        order = s.c.email_key
    elif q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = or_(
            _prefix_range(s.c.email_key, q),
            func.lower(s.c.name).like(pattern, escape="\\"),
            s.c.email_key.like(pattern, escape="\\"),
        )
        order = s.c.id
    else:
        where, order = None, s.c.id
    with db.read() as conn:
        if list_name:
            list_id = list_row_id(conn, list_name)
            stmt = stmt.join(m, and_(m.c.subscriber_id == s.c.id, m.c.list_id == list_id))
            if order is s.c.id:
                order = m.c.subscriber_id  # the memberships PK: (list_id, subscriber_id)
        if where is not None:
            stmt = stmt.where(where)
        counted = conn.scalar(
            select(func.count()).select_from(stmt.limit(COUNT_CAP + 1).subquery())
        )
        if after:
            stmt = stmt.where(order > (after if by_email else _int(after)))
        rows = conn.execute(stmt.order_by(order).limit(page + 1)).all()
    found = [Found(r.id, r.email, r.name, r.locale, r.timezone) for r in rows[:page]]
    last = found[-1] if len(rows) > page else None
    next_after = None if last is None else (last.email.lower() if by_email else str(last.id))
    return Page(found, next_after, min(counted or 0, COUNT_CAP), (counted or 0) > COUNT_CAP)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Suppression:
    key: str  # the email_key; for an erasure, the hash (never shown)
    reason: str  # "erased" for an erasure
    source: str | None
    created_at: datetime
    erased: bool = False

    @property
    def email_key(self) -> str | None:
        return None if self.erased else self.key


def suppressions_page(db: Database, *, after: str | None = None, page: int = PAGE) -> Page:
    """Suppressions (newest first), then erasures (newest first): one keyset over both,
    ``after`` = "s|created_at|email_key" or "e|created_at|key_hash"."""
    x, e = t.suppressions, t.erasures
    kind, stamp, key = _split(after)
    rows: list[Suppression] = []
    with db.read() as conn:
        capped = select(x.c.email_key).limit(COUNT_CAP + 1).subquery()
        count = (conn.scalar(select(func.count()).select_from(capped)) or 0) + (
            conn.scalar(select(func.count()).select_from(e)) or 0
        )
        if kind in ("", "s"):
            stmt = select(x.c.email_key, x.c.reason, x.c.source, x.c.created_at)
            if stamp is not None:
                stmt = stmt.where(
                    or_(x.c.created_at < stamp, and_(x.c.created_at == stamp, x.c.email_key > key))
                )
            stmt = stmt.order_by(x.c.created_at.desc(), x.c.email_key).limit(page + 1)
            rows += [Suppression(*r) for r in conn.execute(stmt)]
        if len(rows) <= page:
            hashed = select(e.c.key_hash, e.c.source, e.c.created_at)
            if kind == "e" and stamp is not None:
                hashed = hashed.where(
                    or_(e.c.created_at < stamp, and_(e.c.created_at == stamp, e.c.key_hash > key))
                )
            hashed = hashed.order_by(e.c.created_at.desc(), e.c.key_hash)
            rows += [
                Suppression(r.key_hash, "erased", r.source, r.created_at, erased=True)
                for r in conn.execute(hashed.limit(page + 1 - len(rows)))
            ]
    shown = rows[:page]
    next_after = None
    if len(rows) > page:
        last = shown[-1]
        next_after = f"{'e' if last.erased else 's'}|{last.created_at.isoformat()}|{last.key}"
    return Page(shown, next_after, min(count, COUNT_CAP), count > COUNT_CAP)


def _split(after: str | None) -> tuple[str, datetime | None, str]:
    if not after:
        return "", None, ""
    parts = after.split("|", 2)
    if len(parts) != 3 or parts[0] not in ("s", "e"):
        return "", None, ""
    try:
        return parts[0], datetime.fromisoformat(parts[1]), parts[2]
    except ValueError:
        return "", None, ""
