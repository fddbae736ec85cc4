"""SendGrid events as stored: deduplicated on sg_event_id, counted per edition."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select

from digest.store import schema as t
from digest.store.db import Database
from digest.store.suppressions import record as record_suppression
from digest.store.upsert import insert_for_dialect, insert_ignore

EVENT_ID_MAX = t.max_length(t.events.c.sg_event_id)  # 100
HASHED = "sha256:"


def stored_event_id(sg_event_id: str) -> str:
    """The key an event is deduplicated on. SendGrid's ids are ~22 ASCII characters and are
    kept as they are; any other id (too long for the column, not printable ASCII, or shaped
    like one of ours) is stored as a SHA-256: fixed length, and two different ids never meet,
    as cutting them to the column's length would make them do. Refusing such ids instead
    would make SendGrid retry the whole batch for 24 hours and lose its other events."""
    if (
        len(sg_event_id) <= EVENT_ID_MAX
        and sg_event_id.isascii()
        and sg_event_id.isprintable()
        and not sg_event_id.startswith(HASHED)
    ):
        return sg_event_id
    digest = hashlib.sha256(sg_event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return HASHED + digest


def record_event(
    db: Database,
    *,
    sg_event_id: str,
    kind: str,
    edition_id: str | None,
    delivery_id: int | None,
    occurred_at: datetime | None,
    suppress: tuple[str, str] | None = None,
    url: str | None = None,
    machine: bool | None = None,
) -> bool:
    """Store one event; True if it is new. ``suppress`` is (email_key, reason): recorded in the
    same transaction, so a crash cannot count an event whose suppression was lost."""
    now = t.utcnow()
    with db.write() as conn:
        values = {
            "sg_event_id": stored_event_id(sg_event_id),
            "kind": kind[:30],
            "edition_id": edition_id[:150] if edition_id else None,
            "delivery_id": delivery_id,
            "occurred_at": occurred_at,
            "received_at": now,
            "url": url,
            "machine": machine,
        }
        dialect_insert = insert_for_dialect(conn)
        if dialect_insert is not None:
            # RETURNING rather than rowcount: psycopg 3 reports -1 for INSERT ... ON CONFLICT
            # DO NOTHING through SQLAlchemy, so rowcount cannot tell a duplicate apart.
            new = (
                conn.execute(
                    dialect_insert(t.events)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=["sg_event_id"])
                    .returning(t.events.c.sg_event_id)
                ).first()
                is not None
            )
        else:
            new = insert_ignore(conn, t.events, values)
        if new and suppress:
            record_suppression(conn, suppress[0], suppress[1], "sendgrid-webhook", now)
    return new


def edition_counts(db: Database, edition_id: str) -> dict[str, int]:
    """{kind: number of events} for one edition."""
    e = t.events
    with db.read() as conn:
        rows = conn.execute(
            select(e.c.kind, func.count()).where(e.c.edition_id == edition_id).group_by(e.c.kind)
        )
        return {kind: int(n) for kind, n in rows}
