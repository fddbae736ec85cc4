"""Global suppressions: addresses no list may mail (unsubscribed from all, bounced, complained).

Keyed by ``email_key`` rather than subscriber id, so a bounce or complaint for an address we do
not hold yet still keeps a later import from mailing it. ``digest.store.subscribers`` honours
them in every read that decides who receives mail.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection, exists, select

from digest.normalize import email_key
from digest.store import schema as t
from digest.store.db import Database
from digest.store.erasures import is_erased_key
from digest.store.upsert import insert_ignore

_REASON = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # unsubscribe, bounce, spamreport, dropped...


def suppress(db: Database, email: str, reason: str, source: str | None = None) -> bool:
    """Never mail ``email`` again, on any list. True if newly suppressed; an existing
    suppression keeps its first reason and date (idempotent)."""
    if not _REASON.fullmatch(reason or ""):
        raise ValueError(f"suppression reason must be a short lower-case word, not {reason!r}")
    with db.write() as conn:
        return record(conn, email_key(email), reason, source, t.utcnow())


def unsuppress(db: Database, email: str) -> bool:
    """Lift a global suppression (e.g. a bounce that was fixed). Memberships are not changed:
    anyone unsubscribed from a list stays unsubscribed from it."""
    with db.write() as conn:
        return (
            conn.execute(
                t.suppressions.delete().where(t.suppressions.c.email_key == email_key(email))
            ).rowcount
            > 0
        )


def is_suppressed(db: Database, email: str) -> bool:
    """Suppressed, or erased on request (only its hash is left: digest/store/erasures.py)."""
    key = email_key(email)
    with db.read() as conn:
        found = conn.scalar(
            select(t.suppressions.c.email_key).where(t.suppressions.c.email_key == key)
        )
        return found is not None or is_erased_key(conn, key)


def record(conn: Connection, key: str, reason: str, source: str | None, now: datetime) -> bool:
    """Insert the suppression inside the caller's transaction, unless one exists."""
    if len(key) > t.EMAIL_MAX:  # a webhook's garbage: no subscriber can hold such a key
        return False
    if is_erased_key(conn, key):  # a late bounce for an erased address must not store it again
        return False
    return insert_ignore(
        conn,
        t.suppressions,
        {
            "email_key": key,
            "reason": reason,
            "source": (source or None) and source[:200],
            "created_at": now,
        },
    )


def suppressed_clause(key_column):
    """SQL condition: the address in ``key_column`` is suppressed (EXISTS, for any query).

    Erased addresses are not in it (SQL cannot hash them portably) and need not be: they have
    no subscriber row, and every path that adds one checks digest/store/erasures.py first."""
    return exists().where(t.suppressions.c.email_key == key_column)
