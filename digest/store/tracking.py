"""digest's own open pixel and click redirect, as stored: one ``events`` row per fetch or click,
tied to its ledger row, so that readers.py counts them like SendGrid's.

Apple Mail Privacy Protection fetches every image of a message through Apple's proxy as soon as
the message arrives, whether anyone reads it: a fetch whose user agent is Apple's proxy's bare
``Mozilla/5.0``, or that comes within ``prefetch_seconds`` of the send, is stored as a machine
open (kept, and shown apart, never counted as a reader's).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select

from digest.store import schema as t
from digest.store.db import Database
from digest.store.events import record_event

APPLE_PROXY_AGENT = "Mozilla/5.0"  # what Apple's image proxy sends, and nothing more


def _ledger_row(db: Database, delivery_id: int, edition_id: str) -> tuple[bool, datetime | None]:
    """(the edition has this ledger row, when it was handed over if it was)."""
    d = t.deliveries
    with db.read() as conn:
        row = conn.execute(
            select(d.c.status, d.c.updated_at).where(
                d.c.id == delivery_id, d.c.edition_id == edition_id
            )
        ).first()
    if row is None:
        return False, None
    return True, row.updated_at if row.status == "sent" else None


def is_machine_open(
    user_agent: str, sent_at: datetime | None, now: datetime, window: float
) -> bool:
    if user_agent.strip() == APPLE_PROXY_AGENT:
        return True
    return sent_at is not None and 0 <= (now - sent_at).total_seconds() < window


def record_open(
    db: Database,
    delivery_id: int,
    edition_id: str,
    *,
    user_agent: str,
    prefetch_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Store one fetch of the pixel; False (nothing stored) when the ledger has no such row."""
    now = now or t.utcnow()
    found, sent_at = _ledger_row(db, delivery_id, edition_id)
    if not found:
        return False
    machine = is_machine_open(user_agent, sent_at, now, prefetch_seconds)
    return record_event(
        db,
        sg_event_id=f"digest:o:{secrets.token_urlsafe(12)}",
        kind="open",
        edition_id=edition_id,
        delivery_id=delivery_id,
        occurred_at=now,
        machine=machine,
    )


def record_click(
    db: Database, delivery_id: int, edition_id: str, url: str, *, now: datetime | None = None
) -> bool:
    """Store one click; False (nothing stored) when the ledger has no such row."""
    now = now or t.utcnow()
    if not _ledger_row(db, delivery_id, edition_id)[0]:
        return False
    return record_event(
        db,
        sg_event_id=f"digest:c:{secrets.token_urlsafe(12)}",
        kind="click",
        edition_id=edition_id,
        delivery_id=delivery_id,
        occurred_at=now,
        url=url[:2048],
    )
