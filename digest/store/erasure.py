"""Erasure on request (GDPR art. 17, Moroccan law 09-08 art. 8): delete a person's data, keep a
hash so the address is never mailed or added again (digest/store/erasures.py).

What goes, in one transaction:

* the subscriber row and, with it, their memberships (preferences and lists live there);
* their suppression under the address (replaced by the hash, which refuses more);
* the address in the audit log's lines (replaced by "[erased]"; the lines stay: who did what);
* the ledger rows' link to them. The rows themselves stay, ``subscriber_id`` NULL and the
  provider's message id dropped, so an edition's counts (sent, failed...) stay true. A row not
  sent yet (pending, sending, failed, unknown) becomes ``skipped`` ("erased"): no retry or
  resend can reach a person who is gone.

SendGrid events hold no address (digest/store/schema.py ``events``): their ledger row is now
unlinked, so they count for the edition and point at nobody. Signup confirmations are keyed
by an HMAC and expire within the hour.

On SQLite every connection runs with ``secure_delete`` (digest/store/db.py), so the deleted
bytes are zeroed in the file, and the WAL is checkpointed after an erasure so no older copy of
a page stays in it. On PostgreSQL the deleted row versions are gone at the next (auto)vacuum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from digest.normalize import email_key
from digest.store import schema as t
from digest.store.db import Database
from digest.store.erasures import key_hash
from digest.store.upsert import insert_ignore

log = logging.getLogger("digest.store")
NOT_SENT = ("pending", "sending", "failed", "unknown")
REDACTED = "[erased]"


@dataclass(frozen=True)
class Erased:
    subscriber_id: int | None  # None: no subscriber held the address (the hash is kept anyway)
    ledger_rows: int  # ledger rows unlinked from them
    newly: bool  # False when the address had been erased before


def erase(db: Database, email: str, *, source: str | None = None) -> Erased:
    """Erase ``email``'s personal data and refuse the address from now on. Idempotent."""
    key = email_key(email)
    s, d, a = t.subscribers, t.deliveries, t.audit_log
    now = t.utcnow()
    with db.write() as conn:
        row = conn.execute(select(s.c.id, s.c.email).where(s.c.email_key == key)).first()
        unlinked = 0
        if row is not None:
            # A scan of the ledger (no index on subscriber_id alone: every send would pay to
            # keep one). Fine for a rare, deliberate act. The ledger has no foreign key to the
            # reader (migration 0013): unlinked here, its rows outlive the DELETE below.
            conn.execute(
                update(d)
                .where(d.c.subscriber_id == row.id, d.c.status.in_(NOT_SENT))
                .values(status="skipped", updated_at=now)
            )
            unlinked = conn.execute(
                update(d)
                .where(d.c.subscriber_id == row.id)
                .values(subscriber_id=None, detail="erased", worker=None)
            ).rowcount
            conn.execute(delete(t.memberships).where(t.memberships.c.subscriber_id == row.id))
            conn.execute(delete(s).where(s.c.id == row.id))
        conn.execute(delete(t.suppressions).where(t.suppressions.c.email_key == key))
        for spelling in {key, email.strip(), *([row.email] if row is not None else [])}:
            for column in (a.c.detail, a.c.target):
                conn.execute(
                    update(a)
                    .where(column.contains(spelling, autoescape=True))
                    .values({column.name: func.replace(column, spelling, REDACTED)})
                )
        newly = insert_ignore(
            conn,
            t.erasures,
            {
                "key_hash": key_hash(key),
                "source": (source or None) and source[:200],
                "created_at": now,
            },
        )
    _checkpoint(db)
    return Erased(row.id if row is not None else None, unlinked, newly)


def _checkpoint(db: Database) -> None:
    """SQLite: copy the WAL into the file and empty it, so the pages that held the address
    (older versions of them) are overwritten now rather than at some later checkpoint."""
    if db.engine.dialect.name != "sqlite":
        return
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception:  # a busy reader: the next automatic checkpoint does it
        log.warning("WAL checkpoint after an erasure did not run", exc_info=True)
