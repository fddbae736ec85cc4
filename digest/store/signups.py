"""The signup form's mail budget: one confirmation per address per hour, across all clients
and all web workers (the database is what they share)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from digest.store import schema as t
from digest.store.db import Database
from digest.store.upsert import insert_ignore

EVERY = timedelta(hours=1)


def claim_confirmation(
    db: Database, address_key: str, *, now: datetime, every: timedelta = EVERY
) -> bool:
    """True if a confirmation may be mailed now (and records it); False if one was mailed to
    this address less than ``every`` ago. Atomic: of two concurrent claims, one wins."""
    c = t.signup_confirmations
    cutoff = now - every
    with db.write() as conn:
        conn.execute(delete(c).where(c.c.sent_at <= cutoff))  # indexed: old rows go
        # The old row was just deleted unless it is recent, so a conflict means "too soon".
        return insert_ignore(conn, c, {"address_key": address_key, "sent_at": now})


def release_confirmation(db: Database, address_key: str, *, sent_at: datetime) -> None:
    """Undo a claim whose message could not be sent, so the person may try again at once."""
    c = t.signup_confirmations
    with db.write() as conn:
        conn.execute(delete(c).where(c.c.address_key == address_key, c.c.sent_at == sent_at))
