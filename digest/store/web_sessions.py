"""Editors' sessions on the server: created at login, checked on every request, revoked at
logout. The web layer hands in the SHA-256 of the cookie's random id, never the id itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, insert, select, update

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


def activity(db: Database, *, now: datetime) -> dict[str, tuple[datetime, int]]:
    """Per editor: when they were last seen (any session, live or not) and how many sessions
    are live now. Editors who never logged in are absent."""
    s = t.web_sessions
    live = (s.c.revoked_at.is_(None)) & (s.c.expires_at > now)
    with db.read() as conn:
        rows = conn.execute(
            select(
                s.c.editor,
                func.max(s.c.last_seen_at),
                func.sum(case((live, 1), else_=0)),
            ).group_by(s.c.editor)
        ).all()
    return {editor: (seen, int(count or 0)) for editor, seen, count in rows}


def revoke_all(db: Database, editor: str, *, now: datetime) -> int:
    """End every live session of ``editor`` (a lost laptop, a password changed): their
    cookies are refused from the next request on. Returns how many were live."""
    s = t.web_sessions
    with db.write() as conn:
        return conn.execute(
            update(s)
            .where(s.c.editor == editor, s.c.revoked_at.is_(None), s.c.expires_at > now)
            .values(revoked_at=now)
        ).rowcount
