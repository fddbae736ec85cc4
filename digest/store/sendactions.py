"""The audit of send control (``send_actions``): who did what to which edition, and when; the
pause request the send loop reads between batches; the ledger's recent pace for progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from digest.errors import DigestError
from digest.headers import one_line
from digest.store import schema as t
from digest.store.db import Database
from digest.store.schema import utcnow

ACTOR_MAX = 200


class NotSending(DigestError):
    """A pause asked for an edition no sender is working on."""


@dataclass(frozen=True)
class Action:
    id: int
    edition_id: str
    action: str
    actor: str
    at: datetime
    detail: str | None


def record_action(
    db: Database, edition_id: str, action: str, *, actor: str, detail: str | None = None
) -> None:
    with db.write() as conn:
        conn.execute(
            insert(t.send_actions).values(
                edition_id=edition_id,
                action=action,
                actor=actor[:ACTOR_MAX],
                at=utcnow(),
                detail=one_line(detail)[:1000] if detail else None,
            )
        )


def list_actions(db: Database, edition_id: str | None = None, limit: int = 100) -> list[Action]:
    a = t.send_actions
    stmt = select(a).order_by(a.c.id.desc()).limit(limit)
    if edition_id is not None:
        stmt = stmt.where(a.c.edition_id == edition_id)
    with db.read() as conn:
        return [Action(**row._mapping) for row in conn.execute(stmt)]


def request_pause(db: Database, edition_id: str, *, by: str) -> None:
    """Ask the senders of ``edition_id`` to stop after their batch in flight, leaving it paused
    and resumable. Only an edition being sent can be paused."""
    e = t.editions
    with db.write() as conn:
        status = conn.scalar(select(e.c.status).where(e.c.id == edition_id))
        if status is None:
            raise DigestError(f"there is no edition {edition_id!r}")
        if status != "sending":
            raise NotSending(f"edition {edition_id} is {status}: nothing is being sent to pause")
        conn.execute(
            update(e)
            .where(e.c.id == edition_id)
            .values(pause_requested_at=utcnow(), pause_requested_by=by[:ACTOR_MAX])
        )


def waive_approval(db: Database, edition_id: str) -> None:
    """The schedule's ``if_unapproved = send``: the draft goes out without an approval (the
    audit says so; approved_at stays empty, so nobody reads it as approved)."""
    e = t.editions
    with db.write() as conn:
        conn.execute(update(e).where(e.c.id == edition_id).values(needs_approval=False))


def clear_pause(db: Database, edition_id: str) -> None:
    e = t.editions
    with db.write() as conn:
        conn.execute(
            update(e)
            .where(e.c.id == edition_id, e.c.pause_requested_at.is_not(None))
            .values(pause_requested_at=None, pause_requested_by=None)
        )


def stop_request(db: Database, edition_id: str) -> str | None:
    """What the send loop reads between batches: 'cancelled', a pause's reason, or None."""
    with db.read() as conn:
        return stop_reason(conn, edition_id)


def stop_reason(conn, edition_id: str) -> str | None:
    """stop_request in the caller's transaction (each claim reads it in its own, so that the
    loop asks between batches without a transaction of its own)."""
    e = t.editions
    row = conn.execute(
        select(e.c.status, e.c.pause_requested_at, e.c.pause_requested_by).where(
            e.c.id == edition_id
        )
    ).first()
    if row is None:
        return None
    if row.status == "cancelled":
        return "cancelled"
    if row.pause_requested_at is not None:
        return f"paused by {row.pause_requested_by}"
    return None


def recent_pace(
    db: Database, edition_id: str, *, window: timedelta, now: datetime | None = None
) -> int:
    """Rows answered (sent, failed, skipped, unknown) within ``window`` before ``now``."""
    d = t.deliveries
    since = (now or utcnow()) - window
    with db.read() as conn:
        return (
            conn.scalar(
                select(func.count()).where(
                    d.c.edition_id == edition_id,
                    d.c.status.in_(("sent", "failed", "skipped", "unknown")),
                    d.c.updated_at >= since,
                )
            )
            or 0
        )
