"""Send control: start, pause, resume, cancel, retry the failed, resend the unknown, and watch.

The one library layer behind ``digest send`` / ``digest pause`` / ``digest cancel`` and the web
app's buttons and JSON API, so there is never a second code path: every send goes through
``run_send`` (which calls the send loop, digest/delivery/loop.py), and every action is written
to the audit (``send_actions``) with who did it. A pause is a flag the loop reads between
batches, like a cancel: it works on a sender in any process, not only one this app started.

``SendControl`` is what a long-lived process (the web app) owns: the sends it started, each in
a thread of its own, so that a request returns at once and progress is read from the ledger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from digest.config import Config
from digest.delivery.base import Backend
from digest.delivery.job import SendReport
from digest.delivery.loop import deliver
from digest.errors import DigestError
from digest.store import ledger
from digest.store.editions import (
    AlreadySent,
    EditionBusy,
    NotApproved,
    StoredEdition,
    cancel_edition,
    get_edition,
)
from digest.store.sendactions import clear_pause, recent_pace, record_action, request_pause
from digest.store.workers import list_workers
from digest.tokens import TokenSigner

log = logging.getLogger("digest.delivery")

ACTIONS = ("start", "resume", "retry-failed", "resend-unknown")
PACE_WINDOW = timedelta(seconds=60)  # the rate is the ledger's answers over the last minute


class ControlError(DigestError):
    """A send action that cannot be done now (said in one sentence)."""


def action_for(stored: StoredEdition, *, retry_failed: bool, resend_unknown: bool) -> str:
    if retry_failed:
        return "retry-failed"
    if resend_unknown:
        return "resend-unknown"
    return "resume" if stored.status in ("paused", "sending") else "start"


def run_send(
    config: Config,
    db,
    stored: StoredEdition,
    backend: Backend,
    *,
    signer: TokenSigner,
    actor: str,
    resend_unknown: bool = False,
    retry_failed: bool = False,
    reason: str | None = None,
    **kw,
) -> SendReport:
    """Record the action, drop a pause request left from before, and run the send loop."""
    action = action_for(stored, retry_failed=retry_failed, resend_unknown=resend_unknown)
    clear_pause(db, stored.id)  # resuming is the answer to an earlier pause
    record_action(
        db,
        stored.id,
        action,
        actor=actor,
        detail=f"backend {backend.info.name}" + (f", reason contains {reason!r}" if reason else ""),
    )
    return deliver(
        config,
        db,
        stored,
        backend,
        signer=signer,
        resend_unknown=resend_unknown,
        retry_failed=retry_failed,
        reason=reason,
        **kw,
    )


def pause(db, edition_id: str, *, actor: str) -> None:
    """Ask every sender of the edition to stop after its batch in flight (resumable)."""
    request_pause(db, edition_id, by=actor)
    record_action(db, edition_id, "pause", actor=actor)


def cancel(db, edition_id: str, *, actor: str, reason: str | None = None) -> dict:
    """Stop the edition for good (digest.store.editions.cancel_edition), recorded."""
    done = cancel_edition(db, edition_id, reason=reason)
    if not done["already"]:
        record_action(db, edition_id, "cancel", actor=actor, detail=reason)
    return done


def check_startable(
    stored: StoredEdition | None, edition_id: str, *, retry_failed: bool, resend_unknown: bool
) -> StoredEdition:
    """Refuse at once, in one sentence, what the loop would refuse in its thread."""
    if stored is None:
        raise ControlError(f"there is no edition {edition_id!r}")
    if stored.status in ("cancelled", "skipped"):
        raise AlreadySent(f"edition {stored.id} was {stored.status}; nothing to do")
    if stored.needs_approval and stored.approved_at is None:
        raise NotApproved(f"edition {stored.id} waits for an editor's approval")
    if stored.status == "sent" and not (retry_failed or resend_unknown):
        raise AlreadySent(f"edition {stored.id} was sent already; nothing to do")
    return stored


def check_not_busy(db, edition_id: str) -> None:
    """A live sender elsewhere (``digest send``, the scheduler): this app does not start a
    second one (PostgreSQL's ``--join`` is for the command line, where its operator chose it)."""
    now = datetime.now(UTC)
    live = [w.owner for w in list_workers(db, edition_id) if w.alive(now)]
    if live:
        raise EditionBusy(
            f"edition {edition_id} is being sent by another process ({', '.join(live)}); "
            "pause it first, or wait for it"
        )


def progress(db, edition_id: str, *, now: datetime | None = None) -> dict:
    """Counts by ledger state, the rate of the last minute (answers a second) and the
    estimated end (UTC, ISO 8601) when something is left and the rate is not zero."""
    stored = get_edition(db, edition_id)
    if stored is None:
        raise ControlError(f"there is no edition {edition_id!r}")
    now = now or datetime.now(UTC)
    counts = ledger.counts(db, edition_id)
    left = counts["pending"] + counts["sending"]
    rate = recent_pace(db, edition_id, window=PACE_WINDOW, now=now) / PACE_WINDOW.total_seconds()
    now_alive = [w for w in list_workers(db, edition_id) if w.alive(now)]
    eta = None
    if left and rate > 0:
        eta = (now + timedelta(seconds=left / rate)).isoformat()
    return {
        "id": stored.id,
        "status": stored.status,
        "reason": stored.reason,
        "total": sum(counts.values()),
        "counts": counts,
        "left": left,
        "senders": len(now_alive),  # live senders, in any process
        "rate_per_second": round(rate, 2),
        "eta": eta,
    }


@dataclass
class Running:
    thread: threading.Thread
    stop: threading.Event
    report: SendReport | None = None
    error: str | None = None


class SendControl:
    """The sends one process started, each in its own thread (at most one per edition here;
    the store's lease refuses a second sender elsewhere on SQLite, or shares on PostgreSQL)."""

    def __init__(self, config: Config, db, *, signer: TokenSigner):
        self.config, self.db, self.signer = config, db, signer
        self._lock = threading.Lock()
        self._runs: dict[str, Running] = {}

    def start(
        self,
        edition_id: str,
        make_backend: Callable[[], Backend],
        *,
        actor: str,
        retry_failed: bool = False,
        resend_unknown: bool = False,
        reason: str | None = None,
    ) -> str:
        """Start (or resume, retry, resend) the send in a thread; returns the action's name."""
        stored = check_startable(
            get_edition(self.db, edition_id),
            edition_id,
            retry_failed=retry_failed,
            resend_unknown=resend_unknown,
        )
        with self._lock:
            run = self._runs.get(edition_id)
            if run is not None and run.thread.is_alive():
                raise EditionBusy(f"edition {edition_id} is being sent by this app already")
            check_not_busy(self.db, edition_id)
            backend = make_backend()
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(stored, backend, stop, actor, retry_failed, resend_unknown, reason),
                name=f"send {edition_id}",
                daemon=True,
            )
            run = self._runs[edition_id] = Running(thread, stop)
            run.thread.start()
        return action_for(stored, retry_failed=retry_failed, resend_unknown=resend_unknown)

    def _run(self, stored, backend, stop, actor, retry_failed, resend_unknown, reason) -> None:
        run = self._runs[stored.id]
        try:
            run.report = run_send(
                self.config,
                self.db,
                stored,
                backend,
                signer=self.signer,
                actor=actor,
                retry_failed=retry_failed,
                resend_unknown=resend_unknown,
                reason=reason,
                stop=stop,
            )
        except DigestError as exc:  # e.g. another process took it meanwhile
            run.error = str(exc)
            log.warning("send of %s did not run: %s", stored.id, exc)
        except Exception:
            run.error = "the send stopped on an unexpected error; it has been logged"
            log.exception("send of %s stopped", stored.id)

    def running(self, edition_id: str) -> bool:
        run = self._runs.get(edition_id)
        return run is not None and run.thread.is_alive()

    def last_error(self, edition_id: str) -> str | None:
        run = self._runs.get(edition_id)
        return run.error if run else None

    def wait(self, edition_id: str, timeout: float | None = None) -> SendReport | None:
        """Wait for this process's send of the edition to end (tests, shutdown)."""
        run = self._runs.get(edition_id)
        if run is None:
            return None
        run.thread.join(timeout)
        return run.report

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every send this process runs after its batch in flight (left resumable)."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop.set()
        for run in runs:
            run.thread.join(timeout)
