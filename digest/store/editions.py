"""Editions as stored: the rendering a send delivers, its status, and the lease on sending it.

Only one process may send an edition at a time. It holds a lease (``owner`` and a heartbeat it
refreshes every batch); another process is refused while the lease is fresh, unless the owner
is on this machine and its pid is gone (a crash or SIGKILL), in which case it takes over at once
instead of making the operator wait for the lease to go stale.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.errors import DigestError
from digest.headers import one_line
from digest.models import Edition, Rendered, Variant, edition_from_dict
from digest.store import schema as t
from digest.store.db import Database
from digest.store.lists import list_row_id
from digest.store.schema import utcnow
from digest.store.variants import read_variants, rendered_from_row, rendering_row, write_variants

LEASE_STALE_AFTER = timedelta(seconds=90)


class AlreadySent(DigestError):
    """The edition went out already: sending it again would mail everyone twice."""


class EditionBusy(DigestError):
    """Another live process holds the lease on this edition."""


class EditionExists(DigestError):
    """An edition with this id is stored already (one per list and local day)."""


class NotApproved(DigestError):
    """The edition needs an editor's approval and has none."""


@dataclass(frozen=True)
class StoredEdition:
    id: str
    list_name: str
    list_id: int
    status: str
    reason: str | None
    backend: str | None
    owner: str | None
    needs_approval: bool
    approved_at: datetime | None
    approved_by: str | None
    edits: dict | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    edition: Edition
    rendered: Rendered
    variants: tuple[Variant, ...] = ()  # the other locales' (edition.variants, rendered once)

    def all_variants(self) -> tuple[Variant, ...]:
        """Every variant, the list's default locale first."""
        return (Variant(self.edition, self.rendered), *self.variants)


def new_owner() -> str:
    """Who holds a lease: host, pid, and a nonce (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def save_edition(
    db: Database,
    edition: Edition,
    rendered: Rendered,
    *,
    needs_approval: bool = False,
    variants: tuple[Variant, ...] = (),
) -> None:
    """Store a built edition as 'ready'. An edition id is stored once; a second build of the same
    list and day must not replace what a send may already be delivering."""
    try:
        with db.write() as conn:
            list_id = list_row_id(conn, edition.list_name)
            exists = conn.scalar(select(t.editions.c.status).where(t.editions.c.id == edition.id))
            if exists is not None:
                raise EditionExists(f"edition {edition.id} is stored already ({exists})")
            conn.execute(
                insert(t.editions).values(
                    id=edition.id,
                    list_id=list_id,
                    status="ready",
                    needs_approval=needs_approval,
                    created_at=utcnow(),
                    **rendering_row(edition, rendered),
                )
            )
            write_variants(conn, edition.id, variants)
    except IntegrityError:
        # Another process stored it between our check and our insert (PostgreSQL's default
        # isolation lets both see "absent"; SQLite's BEGIN IMMEDIATE does not).
        raise EditionExists(f"edition {edition.id} was stored by another process") from None


def replace_rendering(
    db: Database,
    edition_id: str,
    edition: Edition,
    rendered: Rendered,
    *,
    edits: dict | None,
    variants: tuple[Variant, ...] = (),
) -> None:
    """An editor changed the draft: store the new rendering and edits, withdraw any approval.
    Refused once sending has started: half the list must not get another email than the rest."""
    e = t.editions
    with db.write() as conn:
        status = conn.scalar(select(e.c.status).where(e.c.id == edition_id).with_for_update())
        if status is None:
            raise DigestError(f"there is no stored edition {edition_id}")
        if status != "ready":
            raise DigestError(f"edition {edition_id} is {status}: it can no longer be changed")
        conn.execute(
            update(e)
            .where(e.c.id == edition_id)
            .values(
                approved_at=None,
                approved_by=None,
                edits_json=json.dumps(edits, ensure_ascii=False) if edits else None,
                **rendering_row(edition, rendered),
            )
        )
        write_variants(conn, edition_id, variants)


def approve_edition(db: Database, edition_id: str, *, by: str) -> None:
    e = t.editions
    with db.write() as conn:
        status = conn.scalar(select(e.c.status).where(e.c.id == edition_id).with_for_update())
        if status is None:
            raise DigestError(f"there is no stored edition {edition_id}")
        if status not in ("ready", "paused"):
            raise DigestError(f"edition {edition_id} is {status}: there is nothing to approve")
        conn.execute(
            update(e)
            .where(e.c.id == edition_id)
            .values(approved_at=utcnow(), approved_by=one_line(by)[:200])
        )


def skip_edition(db: Database, edition_id: str, *, reason: str) -> None:
    """Not sent on purpose (e.g. nothing new): kept, with the reason, for the history."""
    e = t.editions
    with db.write() as conn:
        conn.execute(
            update(e)
            .where(e.c.id == edition_id, e.c.status == "ready")
            .values(status="skipped", reason=reason, finished_at=utcnow())
        )


def get_edition(db: Database, edition_id: str) -> StoredEdition | None:
    e, lists = t.editions, t.lists
    with db.read() as conn:
        row = conn.execute(
            select(e, lists.c.name.label("list_name"))
            .join(lists, lists.c.id == e.c.list_id)
            .where(e.c.id == edition_id)
        ).first()
        if row is None:
            return None
        edition = edition_from_dict(json.loads(row.edition_json))
        variants = read_variants(conn, edition)
    rendered = rendered_from_row(row, edition)
    return StoredEdition(
        id=row.id,
        list_name=row.list_name,
        list_id=row.list_id,
        status=row.status,
        reason=row.reason,
        backend=row.backend,
        owner=row.owner,
        needs_approval=row.needs_approval,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        edits=json.loads(row.edits_json) if row.edits_json else None,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        edition=edition,
        rendered=rendered,
        variants=variants,
    )


def claim_edition(
    db: Database, edition_id: str, owner: str, *, backend: str, now: datetime | None = None
) -> str:
    """Take the lease on an edition; returns the status it had ('ready', 'paused', 'sending').

    Raises AlreadySent when it was sent, EditionBusy when a live process is sending it.
    """
    now = now or utcnow()
    e = t.editions
    with db.write() as conn:
        row = conn.execute(
            select(
                e.c.status,
                e.c.owner,
                e.c.heartbeat_at,
                e.c.finished_at,
                e.c.needs_approval,
                e.c.approved_at,
            )
            .where(e.c.id == edition_id)
            .with_for_update()
        ).first()
        if row is None:
            raise DigestError(f"there is no stored edition {edition_id}")
        if row.status == "skipped":
            raise AlreadySent(f"edition {edition_id} was skipped on purpose; nothing to do")
        if row.status == "cancelled":
            raise AlreadySent(f"edition {edition_id} was cancelled; nothing to do")
        if row.needs_approval and row.approved_at is None:
            raise NotApproved(
                f"edition {edition_id} waits for an editor's approval: approve it in the web app "
                f"or with 'digest approve {edition_id}', then send again"
            )
        if row.status == "sent":
            raise AlreadySent(
                f"edition {edition_id} was sent already ({row.finished_at:%Y-%m-%d %H:%M} UTC); "
                "nothing to do"
            )
        if row.status == "sending" and row.owner != owner and _lease_alive(row, now):
            raise EditionBusy(
                f"edition {edition_id} is being sent by another process ({row.owner}, last seen "
                f"{row.heartbeat_at:%H:%M:%S} UTC); wait for it, or stop it first"
            )
        conn.execute(
            update(e)
            .where(e.c.id == edition_id)
            .values(
                status="sending",
                owner=owner,
                heartbeat_at=now,
                backend=backend,
                reason=None,
                started_at=func.coalesce(e.c.started_at, now),
            )
        )
    return row.status


def heartbeat(conn, edition_id: str, owner: str) -> None:
    """Called inside the ledger's write transaction after each batch."""
    conn.execute(
        update(t.editions)
        .where(t.editions.c.id == edition_id, t.editions.c.owner == owner)
        .values(heartbeat_at=utcnow())
    )


def release_edition(
    db: Database, edition_id: str, owner: str, *, status: str, reason: str | None = None
) -> None:
    """Give the lease back, leaving the edition 'sent' or 'paused' (with the reason)."""
    now = utcnow()
    values: dict[str, object] = {
        "status": status,
        "reason": reason,
        "owner": None,
        "heartbeat_at": None,
    }
    if status == "sent":
        values["finished_at"] = now
    with db.write() as conn:
        conn.execute(
            update(t.editions)
            .where(t.editions.c.id == edition_id, t.editions.c.owner == owner)
            .values(**values)
        )


def edition_status(db: Database, edition_id: str) -> str | None:
    """The stored status alone: the sender reads it between batches to see a cancel."""
    with db.read() as conn:
        return conn.scalar(select(t.editions.c.status).where(t.editions.c.id == edition_id))


def cancel_edition(
    db: Database, edition_id: str, *, reason: str | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Stop an edition for good: its pending rows become 'cancelled', the edition 'cancelled'.

    A sender still running sees it between batches and stops after the batch in flight, whose
    rows it records as usual (they are 'sending' here and left to it). With no live sender,
    rows left 'sending' by a dead one become 'unknown', as a resume would have marked them.
    The lease is cleared so that the sender's release cannot turn the edition back to 'sent'
    or 'paused'. Returns {'cancelled': rows, 'in_flight': rows left to a live sender}.
    """
    now = now or utcnow()
    e, d = t.editions, t.deliveries
    with db.write() as conn:
        row = conn.execute(
            select(e.c.status, e.c.owner, e.c.heartbeat_at)
            .where(e.c.id == edition_id)
            .with_for_update()
        ).first()
        if row is None:
            raise DigestError(f"there is no stored edition {edition_id}")
        if row.status in ("sent", "skipped"):
            raise DigestError(
                f"edition {edition_id} is {row.status}: there is nothing left to cancel"
            )
        if row.status == "cancelled":
            return {"cancelled": 0, "in_flight": 0, "already": 1}
        cancelled = conn.execute(
            update(d)
            .where(d.c.edition_id == edition_id, d.c.status == "pending")
            .values(status="cancelled", detail="cancelled by the operator", updated_at=now)
        ).rowcount
        in_flight = 0
        if row.status == "sending" and _lease_alive(row, now):
            in_flight = (
                conn.scalar(
                    select(func.count())
                    .select_from(d)
                    .where(d.c.edition_id == edition_id, d.c.status == "sending")
                )
                or 0
            )
        else:
            conn.execute(
                update(d)
                .where(d.c.edition_id == edition_id, d.c.status == "sending")
                .values(
                    status="unknown",
                    detail="in flight when the sending process stopped",
                    updated_at=now,
                )
            )
        why = one_line(reason)[:500] if reason else "cancelled by the operator"
        conn.execute(
            update(e)
            .where(e.c.id == edition_id)
            .values(status="cancelled", reason=why, owner=None, heartbeat_at=None, finished_at=now)
        )
    return {"cancelled": cancelled, "in_flight": in_flight, "already": 0}


def list_editions(db: Database, list_name: str | None = None, limit: int = 50) -> list[dict]:
    e, lists = t.editions, t.lists
    stmt = (
        select(
            e.c.id,
            lists.c.name.label("list_name"),
            e.c.status,
            e.c.subject,
            e.c.reason,
            e.c.needs_approval,
            e.c.approved_at,
            e.c.approved_by,
            e.c.created_at,
            e.c.started_at,
            e.c.finished_at,
        )
        .join(lists, lists.c.id == e.c.list_id)
        .order_by(e.c.created_at.desc())
        .limit(limit)
    )
    if list_name:
        stmt = stmt.where(lists.c.name == list_name)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def _lease_alive(row, now: datetime) -> bool:
    if row.heartbeat_at is None or now - row.heartbeat_at > LEASE_STALE_AFTER:
        return False
    host, _, rest = (row.owner or "").partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit():
        return pid_alive(int(pid))
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
