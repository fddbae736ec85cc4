"""The one delivery loop, shared by every backend.

It claims the next batch of the edition's ledger (committed as 'sending' before anything is
posted), computes each subscriber's values (greeting, signed links) against the edition that was
rendered once, hands the batch to the backend, and records each answer. It paces the sending
(sliding-window rate limit), retries what is transient (backoff with jitter, or the provider's
Retry-After), splits a batch the provider found too large, and pauses the send when a refusal is
systematic or the error budget is spent. A stop request (Ctrl-C, SIGTERM) finishes the batch in
flight, records it, and leaves the edition paused and resumable; it also cuts short any wait
(backoff, Retry-After), leaving the batch not yet posted pending.

Every row's state is exact after each answer: each half of a split batch is recorded as its
answer comes, a batch handed over whose answer was lost is 'unknown' (never retried blindly),
and rows never handed over go back to pending whenever the loop stops early. Between batches
the loop reads the edition's status, so `digest cancel` stops it after the batch in flight, and
a pause request (`digest pause`, the web app) leaves it paused after that batch.
"""

from __future__ import annotations

import gc
import logging
import random
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from threading import Event

from digest.config import Config
from digest.delivery.ahead import LookAhead
from digest.delivery.base import Backend
from digest.delivery.handover import HandOver
from digest.delivery.job import (
    Cancelled,
    Interrupted,
    Pause,
    Progress,
    SendReport,
    VariantJobs,
    limits_for,
)
from digest.delivery.localrun import deadline_warning, record_run, zones_left
from digest.delivery.pacing import backoff
from digest.delivery.tally import Tally
from digest.store import ledger, workers
from digest.store.editions import StoredEdition, edition_status, new_owner
from digest.store.outage import DatabaseOutage, Retry
from digest.store.sendactions import clear_pause
from digest.tokens import TokenSigner

log = logging.getLogger("digest.delivery")
TRACKED_BACKENDS = ("smtp", "outbox")


class Sender:
    """One run of the loop over one stored edition."""

    def __init__(
        self,
        config: Config,
        db,
        stored: StoredEdition,
        backend: Backend,
        *,
        signer: TokenSigner,
        stop: Event | None = None,
        progress: Progress | None = None,
        clock=time.monotonic,
        sleep=None,
        rng=random.random,
        share: bool = False,
        zones: Collection[str] | None = None,
        deadline: datetime | None = None,
        wall=None,
    ):
        self.config, self.db, self.stored, self.backend = config, db, stored, backend
        self.delivery = config.delivery
        self.stop = stop or Event()
        self.progress = progress
        # Backoff and Retry-After waits return at once on a stop request (Event.wait); pacing
        # waits (at most a window, usually under a second) keep a plain sleep: an interrupted
        # one would spin.
        self.clock, self.sleep, self.rng = clock, sleep or self.stop.wait, rng
        # One job per locale variant; each claimed subscriber goes with their variant's.
        # digest's own pixel and click redirect: SendGrid tracks on its own.
        track = backend.info.name in TRACKED_BACKENDS
        self.variants = VariantJobs(config, stored, signer, track=track)
        self.job = self.variants.default_job
        self.limits = limits_for(self.delivery, clock=clock, sleep=sleep or time.sleep)
        wanted = self.delivery.batch_size or backend.max_batch
        self.batch_size = max(
            1, min(wanted, backend.max_batch, self.limits.largest_batch or wanted)
        )
        self.owner = new_owner()
        self.share = share  # --join: work beside the senders already on it (PostgreSQL)
        # Every store call of the loop rides out a database outage of this long: an answer
        # the provider gave is recorded as soon as the database is back, never lost.
        self.retry = Retry(
            self.delivery.database_retry_seconds,
            then="the batch in flight stays 'sending' (a resume reports it "
            "unknown); run the same command again once the database is back",
        )
        self.report = SendReport(
            edition_id=stored.id,
            list_name=stored.list_name,
            backend=backend.info.name,
            destination=backend.info.destination,
        )
        self.tally = Tally(self.report, self.delivery, progress)
        self.handover = HandOver(
            db=db,
            edition_id=stored.id,
            owner=self.owner,
            backend=backend,
            variants=self.variants,
            delivery=self.delivery,
            limits=self.limits,
            stop=self.stop,
            sleep=self.sleep,
            rng=rng,
            retry=self.retry,
            report=self.report,
            tally=self.tally,
        )
        self._started = 0.0
        self._lease_lost: str | None = None
        # A local-time send delivers only the readers of these zones (None: everyone).
        self.zones = frozenset(zones) if zones is not None else None
        self.deadline = deadline
        self.wall = wall or (lambda: datetime.now(UTC))
        self.ahead = LookAhead(
            db=db,
            edition_id=stored.id,
            list_id=stored.list_id,
            variants=self.variants,
            backend=backend,
            limit=self.batch_size,
            zones=self.zones,
            default_zone=config.site.timezone,
            # Beside other workers a plain read would race their claims: it reserves instead.
            reserve=share,
            clock=clock,
        )

    @property
    def sent_this_run(self) -> int:
        return self.handover.sent_this_run

    # -- the loop ------------------------------------------------------------------------------

    def run(
        self, *, resend_unknown: bool = False, retry_failed: bool = False, reason: str | None = None
    ) -> SendReport:
        """``resend_unknown`` / ``retry_failed`` (optionally only failures whose reason contains
        ``reason``) put those rows back to pending first, reopening an edition already sent."""
        # Every object of a send lives for one batch, yet thousands per batch outlive two young
        # collections, and every few batches the collector then rescanned the whole heap
        # (config, templates, SQLAlchemy, the libraries): a quarter of the SendGrid path's CPU.
        # What exists now is kept out of its scans until the send ends.
        gc.freeze()
        try:
            return self._run(
                resend_unknown=resend_unknown, retry_failed=retry_failed, reason=reason
            )
        finally:
            gc.unfreeze()

    def _run(self, *, resend_unknown: bool, retry_failed: bool, reason: str | None) -> SendReport:
        self._started = self.clock()
        edition_id = self.stored.id
        r = self.report
        if resend_unknown or retry_failed:
            r.resent, r.retried = self.retry(
                ledger.reopen_sent,
                self.db,
                edition_id,
                unknown=resend_unknown,
                failed=retry_failed,
                reason=reason,
            )
        # Rows dead senders left in flight become unknown as this one joins (workers.join).
        joined = self.retry(
            workers.join,
            self.db,
            edition_id,
            self.owner,
            backend=self.backend.info.name,
            lease_seconds=self.delivery.lease_seconds,
            share=self.share,
            on_first=self._populate,
        )
        heartbeat = workers.Heartbeat(
            self.db, edition_id, self.owner, self.delivery.lease_seconds, on_lost=self._lost
        ).start()
        status, why, outage = "paused", None, False
        started_at: datetime | None = None
        try:
            r.newly_unknown = joined.newly_unknown
            if resend_unknown:
                r.resent += ledger.resend_unknown(self.db, edition_id)
            if retry_failed:
                r.retried += ledger.retry_failed(self.db, edition_id, reason)
            self._tally()
            started_at = self.wall()
            if self.deadline is not None:
                self._warn(deadline_warning(self, started_at))
            self._passes()
            self._wait_for_peers()
            if self.stop.is_set():
                raise Interrupted
            status = "sent" if self._left() == 0 else "paused"
            later = zones_left(self) if status == "paused" else None
            if later:  # the rest is for zones whose moment has not come: not a pause
                status, why = "sending", later
            elif status == "paused":
                why = "some deliveries are still pending"
        except Pause as exc:
            status, why = "paused", str(exc)
            r.status = "paused"
        except Interrupted:
            status, why = (
                "paused",
                self._lease_lost or "stopped by the operator (Ctrl-C or SIGTERM)",
            )
            r.status = "interrupted"
        except Cancelled:
            status = "cancelled"
        except DatabaseOutage:
            outage = True
            raise  # the lease runs out by itself; a resume marks what was in flight unknown
        finally:
            heartbeat.stop()
            self.backend.close()
            if not outage:
                self._leave(status, why)
                if started_at is not None:  # the send got going: record its rate and deadline
                    self._warn(
                        record_run(
                            self,
                            started_at,
                            started_at + timedelta(seconds=self.clock() - self._started),
                        )
                    )
        return self.report

    def _warn(self, message: str | None) -> None:
        if message:
            log.warning("%s: %s", self.stored.id, message)
            self.report.warnings.append(message)

    def _lost(self) -> None:
        """The heartbeat found this worker's lease taken (silent past delivery.lease_seconds,
        and marked dead by another): stop after the batch in flight, whose answer is kept."""
        self._lease_lost = (
            "this sender's lease was taken over (it was silent for longer "
            "than delivery.lease_seconds)"
        )
        self.stop.set()

    def _leave(self, status: str, why: str | None) -> None:
        edition_id, r = self.stored.id, self.report
        last = self.retry(workers.leave, self.db, edition_id, self.owner, status=status, reason=why)
        if last:  # a pause request is answered once every sender has stopped
            self.retry(clear_pause, self.db, edition_id)
        if (
            not last
            and status == "paused"
            and r.status == "sent"
            and why == "some deliveries are still pending"
        ):
            status, why = "sent", "other workers carry on with the rest"
        if self.retry(edition_status, self.db, edition_id) == "cancelled":
            r.status, why = "cancelled", "cancelled by the operator ('digest cancel')"
        self._tally()
        r.reason = why
        if status == "paused" and r.status == "sent":
            r.status = "paused"
        r.seconds = self.clock() - self._started
        r.failures = self.retry(ledger.failures, self.db, edition_id)

    def _populate(self, conn, previous: str) -> None:
        """Inside workers.join, when no other worker is alive. The audience is fixed when the
        send starts (one INSERT ... SELECT, atomic): a resume neither adds people who
        subscribed since nor loses anyone."""
        empty = not ledger.has_rows(conn, self.stored.id)
        if previous == "ready" or empty:
            ledger.populate_rows(conn, self.stored.id, self.stored.list_id, empty=empty)

    def _wait_for_peers(self) -> None:
        """Done with what this worker could claim: wait while other workers hold rows in flight,
        so that whoever leaves last sees their answers, or marks a dead one's batch unknown
        (the heartbeat thread does, once that worker's lease has run out)."""
        while not self.stop.is_set() and self.retry(
            workers.others_in_flight, self.db, self.stored.id, self.owner
        ):
            self.stop.wait(0.2)

    def _passes(self) -> None:
        """Pass over pending rows until none are left; rows told 'retry' come back next pass.
        However they end (but for a database outage), the last answers are written."""
        try:
            self._pass_over()
        except DatabaseOutage:
            raise
        except BaseException:
            self.handover.flush()
            raise
        finally:
            self.ahead.close()
        self.handover.flush()

    def _pass_over(self) -> None:
        for attempt in range(1, self.delivery.max_retries + 2):
            after, claimed_any = 0, False
            while not self.stop.is_set():
                # The rows read ahead while the last batch was in flight, claimed by id (see
                # ahead.py), or, without a recent look ahead, the next rows read and claimed.
                # Either claim reads the edition's stop request first, in its transaction.
                made = self.ahead.take()
                batch = self.ahead.claim(
                    made, owner=self.owner, answers=self.handover.answers, retry=self.retry
                )
                if batch is None:
                    batch = self.retry(
                        ledger.claim_batch,
                        self.db,
                        self.stored.id,
                        self.stored.list_id,
                        after=after,
                        limit=self.batch_size,
                        owner=self.owner,
                        zones=self.zones,
                        default_zone=self.config.site.timezone,
                        answers=self.handover.answers,
                    )
                self.handover.answers = []
                if batch.stop == "cancelled":
                    raise Cancelled
                if batch.stop:  # a pause from the web app, the API or `digest pause`
                    raise Pause(batch.stop)
                if batch.last_id is None:
                    break
                after = batch.last_id
                self.tally.count(skipped=batch.skipped)
                # This batch ready (prepared ahead if it is the same rows), then the next one
                # read and prepared while this one is posted.
                ready = self.ahead.ready(made, batch.claimed) if batch.claimed else []
                self.ahead.start(after)
                if batch.claimed:
                    claimed_any = True
                    self.handover.deliver_variants(batch.claimed, ready)
            self.handover.flush()
            if self.stop.is_set() or not claimed_any or self._counts()["pending"] == 0:
                return
            self.sleep(
                backoff(
                    attempt,
                    base=self.delivery.backoff_base,
                    cap=self.delivery.backoff_max,
                    rng=self.rng,
                )
            )

    # -- bookkeeping ---------------------------------------------------------------------------

    def _counts(self) -> dict[str, int]:
        return self.retry(ledger.counts, self.db, self.stored.id)

    def _tally(self) -> None:
        self.tally.read(self._counts())

    def _left(self) -> int:
        c = self._counts()
        return c["pending"] + c["sending"]


def deliver(
    config: Config,
    db,
    stored: StoredEdition,
    backend: Backend,
    *,
    signer: TokenSigner,
    resend_unknown: bool = False,
    retry_failed: bool = False,
    reason: str | None = None,
    share: bool = False,
    **kw,
) -> SendReport:
    """Send (or resume) a stored edition through a backend. The library call behind the CLI.
    ``share``: work beside the senders already on it (PostgreSQL); ``zones``: only readers in
    those zones (a local-time schedule's moment); ``deadline``: warn at the start when the
    estimate cannot meet it, record on the edition if missed."""
    return Sender(config, db, stored, backend, signer=signer, share=share, **kw).run(
        resend_unknown=resend_unknown, retry_failed=retry_failed, reason=reason
    )
