"""Editors' sessions on the server: created at login, checked on every request, revoked at
logout. The web layer hands in the SHA-256 of the cookie's random id, never the id itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from digest.store import schema as t
from digest.store.db import Database

# last_seen_at is written at most this often: a page view is a read, not a write per request.
TOUCH_EVERY = timedelta(minutes=1)


def create_session(
    db: Database, id_hash: str, editor: str, *, now: datetime, lifetime: timedelta
) -> None:
    with db.write() as conn:
        # Expired sessions (revoked ones included, they expire too) are of no use to anyone.
        conn.execute(delete(t.web_sessions).where(t.web_sessions.c.expires_at <= now))
        conn.execute(
            insert(t.web_sessions).values(
                id_hash=id_hash,
                editor=editor,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
        )


def session_editor(db: Database, id_hash: str, *, now: datetime) -> str | None:
    """The editor of a live session (not revoked, not expired), or None."""
    s = t.web_sessions
    with db.read() as conn:
        row = conn.execute(
            select(s.c.editor, s.c.last_seen_at).where(
                s.c.id_hash == id_hash, s.c.revoked_at.is_(None), s.c.expires_at > now
            )
        ).first()
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with db.write() as conn:
            conn.execute(update(s).where(s.c.id_hash == id_hash).values(last_seen_at=now))
    return row.editor


def revoke_session(db: Database, id_hash: str, *, now: datetime) -> None:
    s = t.web_sessions
    with db.write() as conn:
        conn.execute(
            update(s).where(s.c.id_hash == id_hash, s.c.revoked_at.is_(None)).values(revoked_at=now)
        )
