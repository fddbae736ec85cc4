"""The senders of an edition: one lease row per `digest send` worker, kept fresh while it lives.

Each worker has a row in ``send_workers`` (host:pid:nonce, heartbeat, lease length). A thread
renews it every sixth of the lease, whatever the loop is doing (a 100 s Retry-After, a slow
SMTP relay, a database retry), so a live sender is never taken for dead. A worker is dead when
its lease expired, or at once when it ran on this machine and its pid is gone (a SIGKILL); its
rows still 'sending' then become 'unknown' (they may have arrived), and the others carry on.

On PostgreSQL several workers may be active on one edition (``join=True``): each claims its own
batches (``SELECT ... FOR UPDATE SKIP LOCKED`` in ledger.claim_batch). SQLite has one writer at
a time, so a second sender is refused there. The last worker to leave decides the edition's
status ('sent' when no row is pending or in flight, else 'paused').
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import DigestError
from digest.store import schema as t
from digest.store.db import Database
from digest.store.editions import LEASE_STALE_AFTER, AlreadySent, EditionBusy, NotApproved
from digest.store.plans import by_index
from digest.store.schema import utcnow

log = logging.getLogger("digest.store.workers")

IN_FLIGHT_DEAD = "in flight when the sending process stopped"
ENDINGS = ("done", "paused", "stopped")


@dataclass(frozen=True)
class Worker:
    owner: str
    status: str
    backend: str | None
    lease_seconds: float
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    sending: int = 0  # ledger rows it holds in flight now

    def alive(self, now: datetime) -> bool:
        if self.status != "active":
            return False
        if (now - self.heartbeat_at).total_seconds() > self.lease_seconds:
            return False
        return owner_alive(self.owner)


@dataclass(frozen=True)
class Joined:
    previous: str  # the edition's status before: 'ready', 'paused' or 'sending'
    first: bool  # no other live worker: this one populated the ledger if it had to
    newly_unknown: int  # rows dead workers left in flight, marked unknown now
    others: int  # live workers it shares the edition with


def owner_alive(owner: str) -> bool:
    """False only when the owner ran on this machine and its process is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def workers(conn: Connection, edition_id: str) -> list[Worker]:
    w, d = t.send_workers, t.deliveries
    sending = (
        select(func.count())
        .select_from(d)
        .where(d.c.edition_id == edition_id, d.c.status == "sending", d.c.worker == w.c.owner)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(w, sending.label("sending"))
        .where(w.c.edition_id == edition_id)
        .order_by(w.c.started_at, w.c.owner)
    ).all()
    return [
        Worker(
            owner=r.owner,
            status=r.status,
            backend=r.backend,
            lease_seconds=r.lease_seconds,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
            finished_at=r.finished_at,
            sending=r.sending,
        )
        for r in rows
    ]


def list_workers(db: Database, edition_id: str) -> list[Worker]:
    """For `digest status`: every worker that took part, first to join first."""
    with db.read() as conn:
        return workers(conn, edition_id)


def reap(conn: Connection, edition_id: str, *, keep: set[str], now: datetime) -> int:
    """Inside a write transaction: workers not alive (and not in ``keep``) are marked dead and
    their rows in flight, with rows in flight that belong to nobody alive, become unknown."""
    w, d = t.send_workers, t.deliveries
    everyone = workers(conn, edition_id)
    living = {x.owner for x in everyone if x.alive(now)} | keep
    dead = [x.owner for x in everyone if x.status == "active" and x.owner not in living]
    if dead:
        conn.execute(
            update(w)
            .where(w.c.edition_id == edition_id, w.c.owner.in_(dead))
            .values(status="dead", finished_at=now)
        )
    stmt = update(d).where(d.c.edition_id == edition_id, d.c.status == "sending")
    if living:
        stmt = stmt.where((d.c.worker.is_(None)) | (d.c.worker.not_in(sorted(living))))
    return conn.execute(
        stmt.values(status="unknown", detail=IN_FLIGHT_DEAD, updated_at=now)
    ).rowcount


def touch(conn: Connection, edition_id: str, owner: str, now: datetime | None = None) -> bool:
    """Renew ``owner``'s lease (and the edition's heartbeat); False when it is no longer active
    (another worker found it dead, or the edition was cancelled)."""
    now = now or utcnow()
    w, e = t.send_workers, t.editions
    renewed = conn.execute(
        update(w)
        .where(w.c.edition_id == edition_id, w.c.owner == owner, w.c.status == "active")
        .values(heartbeat_at=now)
    ).rowcount
    conn.execute(
        update(e).where(e.c.id == edition_id, e.c.status == "sending").values(heartbeat_at=now)
    )
    return bool(renewed)


def join(
    db: Database,
    edition_id: str,
    owner: str,
    *,
    backend: str,
    lease_seconds: float,
    share: bool = False,
    on_first: Callable[[Connection, str], None] | None = None,
    now: datetime | None = None,
) -> Joined:
    """Become a worker on the edition, in one transaction holding the edition's row.

    Raises AlreadySent / NotApproved as a single sender would, and EditionBusy when another
    worker is alive and this one may not share (``share`` False, or SQLite). ``on_first(conn,
    previous)`` runs in the same transaction when no other worker is alive, so that the ledger
    is filled once before anyone claims from it.
    """
    now = now or utcnow()
    e, w = t.editions, t.send_workers
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
        _check_sendable(edition_id, row)
        live = [x for x in workers(conn, edition_id) if x.owner != owner and x.alive(now)]
        legacy = _legacy_holder(row, {x.owner for x in workers(conn, edition_id)}, now)
        if legacy:
            raise EditionBusy(
                f"edition {edition_id} is being sent by another process ({row.owner}, last seen "
                f"{row.heartbeat_at:%H:%M:%S} UTC); wait for it, or stop it first"
            )
        if live and (db.dialect == "sqlite" or not share):
            names = ", ".join(x.owner for x in live)
            seen = max(x.heartbeat_at for x in live)
            hint = (
                "SQLite: one sender per edition; use PostgreSQL for several"
                if db.dialect == "sqlite"
                else "to share it with them, run the same command with --join"
            )
            raise EditionBusy(
                f"edition {edition_id} is being sent by another process ({names}, "
                f"last seen {seen:%H:%M:%S} UTC); {hint}"
            )
        unknown = reap(conn, edition_id, keep={owner} | {x.owner for x in live}, now=now)
        if not live and on_first is not None:
            on_first(conn, row.status)
        values = {
            "status": "active",
            "backend": backend,
            "lease_seconds": lease_seconds,
            "started_at": now,
            "heartbeat_at": now,
            "finished_at": None,
        }
        renewed = conn.execute(
            update(w).where(w.c.edition_id == edition_id, w.c.owner == owner).values(**values)
        ).rowcount
        if not renewed:
            conn.execute(insert(w).values(edition_id=edition_id, owner=owner, **values))
        edition = {
            "status": "sending",
            "heartbeat_at": now,
            "backend": backend,
            "started_at": func.coalesce(e.c.started_at, now),
        }
        if not live:  # the edition's own owner: the first worker (cancel and status read it)
            edition.update(owner=owner, reason=None)
        conn.execute(update(e).where(e.c.id == edition_id).values(**edition))
    return Joined(previous=row.status, first=not live, newly_unknown=unknown, others=len(live))


def leave(
    db: Database,
    edition_id: str,
    owner: str,
    *,
    status: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> bool:
    """End ``owner``'s work. The last live worker settles the edition: rows in flight with
    nobody become unknown, and it is 'sent' when nothing is pending, else 'paused' with
    ``reason``. Returns True when this was the last live worker."""
    now = now or utcnow()
    e, w, d = t.editions, t.send_workers, t.deliveries
    # "sending": a local-time run done with its zones, the rest waiting for theirs.
    ending = {"sent": "done", "sending": "done", "paused": "paused"}.get(status, "stopped")
    with db.write() as conn:
        by_index(conn)  # reap and the count below read the edition's rows (plans.py)
        current = conn.scalar(select(e.c.status).where(e.c.id == edition_id).with_for_update())
        conn.execute(
            update(w)
            .where(w.c.edition_id == edition_id, w.c.owner == owner)
            .values(status=ending, finished_at=now, heartbeat_at=now)
        )
        if current == "cancelled":  # a cancel cleared the lease: nothing to give back
            return True
        live = [x for x in workers(conn, edition_id) if x.owner != owner and x.alive(now)]
        if live:
            conn.execute(
                update(e)
                .where(e.c.id == edition_id, e.c.owner == owner)
                .values(owner=live[0].owner)
            )
            return False
        reap(conn, edition_id, keep=set(), now=now)
        left = (
            conn.scalar(
                select(func.count())
                .select_from(d)
                .where(d.c.edition_id == edition_id, d.c.status.in_(("pending", "sending")))
            )
            or 0
        )
        if status == "sent" and not left:
            final = "sent"
        elif status == "sending" and left:  # left sending, ownerless, for the next zone's run
            final = "sending"
        else:
            final = "paused"
        if final == "paused" and not reason:
            reason = "some deliveries are still pending"
        values: dict[str, object] = {
            "status": final,
            "reason": None if final == "sent" else reason,
            "owner": None,
            "heartbeat_at": None,
        }
        if final == "sent":
            values["finished_at"] = now
        conn.execute(update(e).where(e.c.id == edition_id).values(**values))
    return True


def others_in_flight(db: Database, edition_id: str, owner: str) -> int:
    """Rows other workers hold 'sending' now: a worker done with its share waits for them, so
    that whoever leaves last sees every answer (or marks a dead worker's batch unknown)."""
    d = t.deliveries
    with db.read() as conn:
        by_index(conn)  # the edition's rows, not a scan of every edition's (plans.py)
        return (
            conn.scalar(
                select(func.count())
                .select_from(d)
                .where(
                    d.c.edition_id == edition_id,
                    d.c.status == "sending",
                    (d.c.worker.is_(None)) | (d.c.worker != owner),
                )
            )
            or 0
        )


class Heartbeat:
    """A daemon thread renewing one worker's lease and marking dead peers, until stopped.

    A database that does not answer is logged and tried again next beat (the lease has six
    beats of slack). ``on_lost`` is called once if the lease was taken from this worker.
    """

    def __init__(
        self,
        db: Database,
        edition_id: str,
        owner: str,
        lease_seconds: float,
        *,
        on_lost: Callable[[], None],
    ):
        self.db, self.edition_id, self.owner = db, edition_id, owner
        self.interval = max(lease_seconds / 6, 0.05)
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {edition_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=max(self.interval * 2, 5.0))

    def beat(self, *, judge: bool = True) -> None:
        """Renew; with ``judge``, also mark dead the peers whose lease ran out."""
        now = utcnow()
        with self.db.write() as conn:
            by_index(conn)  # reap reads the edition's rows in flight (plans.py)
            if not touch(conn, self.edition_id, self.owner, now):
                self.on_lost()
                self._stop.set()
                return
            if judge:
                keep = {x.owner for x in workers(conn, self.edition_id) if x.alive(now)}
                reap(conn, self.edition_id, keep=keep | {self.owner}, now=now)

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                # Right after an outage of its own, a worker does not judge its peers: they
                # were cut off as long as it was, and renew on their next beat.
                self.beat(judge=not failing)
                failing = False
            except SQLAlchemyError as exc:
                if not failing:
                    log.warning(
                        "could not renew the send lease of %s (the database does not "
                        "answer: %s); trying again every %.0f s",
                        self.edition_id,
                        _first_line(exc),
                        self.interval,
                    )
                failing = True


def _check_sendable(edition_id: str, row) -> None:
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
            f"edition {edition_id} was sent already "
            f"({row.finished_at:%Y-%m-%d %H:%M} UTC); nothing to do"
        )


def _legacy_holder(row, registered: set[str], now: datetime) -> bool:
    """A lease taken on the edition row alone (editions.claim_edition, as before workers had
    rows of their own), still fresh: exclusive, as it always was."""
    if row.status != "sending" or not row.owner or row.owner in registered:
        return False
    if row.heartbeat_at is None or now - row.heartbeat_at > LEASE_STALE_AFTER:
        return False
    return owner_alive(row.owner)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
