"""What a subscriber changes themselves: lists, language, and a confirmed signup.

Separate from the bulk import in ``subscribers.py``: these are one person's own choices, made
through a signed link, so (unlike an import) they may resubscribe someone who left.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from digest.normalize import email_key, normalize_email
from digest.store import schema as t
from digest.store.db import Database
from digest.store.erasures import is_erased_key
from digest.store.lists import check_list_name, get_or_create_list


def memberships_of(db: Database, subscriber_id: int) -> dict[str, str]:
    """{list name: 'active' | 'unsubscribed'} for one subscriber."""
    m = t.memberships
    with db.read() as conn:
        rows = conn.execute(
            select(t.lists.c.name, m.c.status)
            .join(t.lists, t.lists.c.id == m.c.list_id)
            .where(m.c.subscriber_id == subscriber_id)
        )
        return {name: status for name, status in rows}


def set_membership(
    db: Database, subscriber_id: int, list_name: str, active: bool, *, title: str | None = None
) -> None:
    now = t.utcnow()
    with db.write() as conn:
        list_id, _ = get_or_create_list(conn, check_list_name(list_name), title, now)
        _set(conn, subscriber_id, list_id, active, now)


def _set(conn: Connection, subscriber_id: int, list_id: int, active: bool, now) -> None:
    m = t.memberships
    where = (m.c.subscriber_id == subscriber_id, m.c.list_id == list_id)
    status = conn.scalar(select(m.c.status).where(*where))
    if status is None:
        if active:
            conn.execute(
                insert(m).values(
                    list_id=list_id,
                    subscriber_id=subscriber_id,
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
        return
    if active and status != "active":
        conn.execute(
            update(m).where(*where).values(status="active", unsubscribed_at=None, updated_at=now)
        )
    elif not active and status == "active":
        conn.execute(
            update(m)
            .where(*where)
            .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
        )


def set_locale(db: Database, subscriber_id: int, locale: str | None) -> None:
    s = t.subscribers
    with db.write() as conn:
        conn.execute(
            update(s)
            .where(s.c.id == subscriber_id)
            .values(locale=locale or None, updated_at=t.utcnow())
        )


def confirm_signup(
    db: Database, email: str, list_name: str, *, locale: str | None = None, title: str | None = None
) -> int | None:
    """The person followed the signed link in the confirmation email: subscribe them.

    Returns the subscriber id, or None for an address erased on request (never added again,
    whoever asks: the erasure is the promise that nothing of it is kept). An earlier
    "unsubscribe from everything" is lifted (they asked again, and proved they hold the
    mailbox); bounce and complaint suppressions are not.
    """
    address = normalize_email(email)
    key = email_key(address)
    s = t.subscribers
    now = t.utcnow()
    with db.write() as conn:
        if is_erased_key(conn, key):
            return None
        list_id, _ = get_or_create_list(conn, check_list_name(list_name), title, now)
        sid = conn.scalar(select(s.c.id).where(s.c.email_key == key))
        if sid is None:
            made = conn.execute(
                insert(s).values(
                    email=address,
                    email_key=key,
                    name="",
                    locale=locale,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key
            assert made is not None  # a single-row INSERT always reports the key it made
            sid = made[0]
        conn.execute(
            delete(t.suppressions).where(
                t.suppressions.c.email_key == key, t.suppressions.c.reason == "unsubscribe"
            )
        )
        _set(conn, sid, list_id, True, now)
    return sid


def get_timezone(db: Database, subscriber_id: int) -> str | None:
    with db.read() as conn:
        return conn.scalar(
            select(t.subscribers.c.timezone).where(t.subscribers.c.id == subscriber_id)
        )


def set_timezone(db: Database, subscriber_id: int, zone: str | None) -> None:
    """The reader's own zone (an IANA name checked by the caller); None: the site's."""
    s = t.subscribers
    with db.write() as conn:
        conn.execute(
            update(s)
            .where(s.c.id == subscriber_id)
            .values(timezone=zone or None, updated_at=t.utcnow())
        )
