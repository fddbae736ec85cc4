"""Subscriber lists: their names (checked once, here), rows and member counts."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    Connection,
    func,
    insert,
    select,
)

from digest.errors import StoreError
from digest.store import schema as t
from digest.store.db import Database
from digest.store.suppressions import (
    suppressed_clause,
)


class ListInfo(NamedTuple):
    name: str
    title: str
    active_count: int  # members who would receive the next edition


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
        return get_or_create_list(conn, check_list_name(name), title, t.utcnow())[1]


def check_list_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > t.LIST_NAME_MAX or any(ord(c) < 32 for c in cleaned):
        raise StoreError(
            f"{name!r} is not a usable list name: give 1 to {t.LIST_NAME_MAX} "
            "characters on one line"
        )
    return cleaned


def list_row_id(conn: Connection, name: str) -> int:
    list_id = conn.scalar(select(t.lists.c.id).where(t.lists.c.name == name))
    if list_id is None:
        known = conn.scalars(select(t.lists.c.name).order_by(t.lists.c.name).limit(20)).all()
        hint = f"known lists: {', '.join(known)}" if known else "there are no lists yet"
        raise StoreError(
            f"there is no subscriber list named {name!r} ({hint}); "
            "importing a CSV with --list creates one"
        )
    return list_id


def get_or_create_list(
    conn: Connection, name: str, title: str | None, now: datetime
) -> tuple[int, bool]:
    list_id = conn.scalar(select(t.lists.c.id).where(t.lists.c.name == name))
    if list_id is not None:
        return list_id, False
    title = (title or name)[
        : t.max_length(t.lists.c.title)
    ]  # a long --title must not crash PostgreSQL
    result = conn.execute(insert(t.lists).values(name=name, title=title, created_at=now))
    key = result.inserted_primary_key
    assert key is not None  # a single-row INSERT always reports the key it made
    return key[0], True


def reader_locales(db: Database, name: str) -> set[str | None]:
    """The distinct locales of the list's active members (None: a member who gave none): which
    variants an edition of the list needs."""
    m, s = t.memberships, t.subscribers
    stmt = (
        select(s.c.locale)
        .distinct()
        .join(m, m.c.subscriber_id == s.c.id)
        .join(t.lists, t.lists.c.id == m.c.list_id)
        .where(t.lists.c.name == name, m.c.status == "active")
    )
    with db.read() as conn:
        return set(conn.scalars(stmt))
