"""The audit log: who did what, when. Send control writes ``send_actions`` (one edition's
story, read by its progress page); everything else goes to ``audit_log``. The audit page reads
both as one list, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, literal, select, union_all

from digest.headers import one_line
from digest.store import schema as t
from digest.store.db import Database
from digest.store.schema import utcnow

ACTOR_MAX, ACTION_MAX, TARGET_MAX, DETAIL_MAX = 200, 40, 200, 1000


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: str | None


def record(
    db: Database, actor: str, action: str, target: str | None = None, detail: str | None = None
) -> None:
    """One line of the audit; values from a request are cut to their column and kept on one
    line (the page shows them; a log reader may grep them)."""
    with db.write() as conn:
        conn.execute(
            insert(t.audit_log).values(
                at=utcnow(),
                actor=one_line(actor)[:ACTOR_MAX],
                action=one_line(action)[:ACTION_MAX],
                target=one_line(target)[:TARGET_MAX] if target else None,
                detail=one_line(detail)[:DETAIL_MAX] if detail else None,
            )
        )


def _both(actor: str | None):
    a, s = t.audit_log, t.send_actions
    general = select(a.c.at, a.c.actor, a.c.action, a.c.target, a.c.detail, a.c.id)
    sends = select(
        s.c.at,
        s.c.actor,
        (literal("send:") + s.c.action).label("action"),
        s.c.edition_id.label("target"),
        s.c.detail,
        s.c.id,
    )
    if actor:
        general = general.where(a.c.actor == actor)
        sends = sends.where(s.c.actor == actor)
    return union_all(general, sends).subquery()


def entries(
    db: Database, *, limit: int = 50, offset: int = 0, actor: str | None = None
) -> list[Entry]:
    """Newest first; ``actor`` keeps one person's (or token's) lines only."""
    both = _both(actor)
    stmt = (
        select(both.c.at, both.c.actor, both.c.action, both.c.target, both.c.detail)
        .order_by(both.c.at.desc(), both.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with db.read() as conn:
        return [Entry(*row) for row in conn.execute(stmt)]


def count(db: Database, *, actor: str | None = None) -> int:
    both = _both(actor)
    with db.read() as conn:
        return conn.scalar(select(func.count()).select_from(both)) or 0
