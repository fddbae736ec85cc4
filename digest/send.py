"""The one delivery loop, shared by every backend.

It claims the next batch of the edition's ledger (committed as 'sending' before anything is
posted), computes each subscriber's values (greeting, signed links) against the edition that was
rendered once, hands the batch to the backend, and records each answer. It paces the sending
(sliding-window rate limit), retries what is transient (backoff with jitter, or the provider's
Retry-After), splits a batch the provider found too large, and pauses the send when a refusal is
systematic or the error budget is spent. A stop request (Ctrl-C, SIGTERM) finishes the batch in
flight, records it, and leaves the edition paused and resumable.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Event

from digest.config import Config, DeliveryConfig
from digest.delivery.base import Backend, Recipient, SendJob
from digest.delivery.message import list_id
from digest.errors import (
    DeliveryAuthError,
    DeliveryError,
    DeliveryRefused,
    DeliveryTooLarge,
    DeliveryTransient,
)
from digest.models import Edition, Rendered, Subscriber
from digest.pacing import Limits, SlidingWindow, backoff
from digest.render.personalize import Personalizer
from digest.render.strings import Greeter
from digest.store import ledger
from digest.store.editions import StoredEdition, claim_edition, new_owner, release_edition
from digest.tokens import TokenSigner

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class SendReport:
    edition_id: str
    list_name: str
    backend: str
    destination: str
    status: str = "sent"  # sent | paused | interrupted | dry-run
    reason: str | None = None
    total: int = 0  # ledger rows: every member of the list when the send started
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    pending: int = 0
    newly_unknown: int = 0  # rows a crashed run left in flight, found at this start
    seconds: float = 0.0
    requests: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


class Pause(Exception):
    """Stop the loop and leave the edition paused with this reason."""


def make_job(config: Config, edition: Edition, rendered: Rendered) -> SendJob:
    list_title = config.list_config(edition.list_name).title
    return SendJob(
        edition=edition,
        rendered=rendered,
        personalizer=Personalizer(rendered),
        from_email=config.sender.email,
        from_name=config.sender.name or config.site.name,
        list_id=list_id(list_title, edition.list_name, config.site.url),
        reply_to=config.sender.reply_to,
        unsubscribe_mailto=config.sender.unsubscribe_mailto,
        date=datetime.now(UTC),
    )


class RecipientFactory:
    """Per-subscriber values. Cheap by design: one HMAC and a few string joins."""

    def __init__(self, config: Config, job: SendJob, signer: TokenSigner):
        self.public_url = config.site.public_url
        self.list_name = job.edition.list_name
        self.greeting = Greeter(job.edition.locale)
        self.sign = signer.make
        domain = config.sender.email.rsplit("@", 1)[-1]
        # One nonce per send run keeps Message-IDs unique if an edition is ever re-sent.
        self._id_suffix = f".{secrets.token_hex(4)}@{domain}>"
        self._id_prefix = f"<{job.edition.id}."

    def __call__(self, subscriber: Subscriber, delivery_id: int | None = None) -> Recipient:
        token = self.sign(subscriber.id, self.list_name)
        values = {
            "greeting": self.greeting(subscriber.name),
            "unsubscribe_url": f"{self.public_url}/u/{token}",
            "preferences_url": f"{self.public_url}/p/{token}",
        }
        message_id = f"{self._id_prefix}{subscriber.id:x}{self._id_suffix}"
        return Recipient(subscriber=subscriber, values=values, message_id=message_id,
                         delivery_id=delivery_id)


def limits_for(delivery: DeliveryConfig, *, clock=time.monotonic, sleep=time.sleep) -> Limits:
    windows = []
    if delivery.rate_per_second:
        windows.append(SlidingWindow(max(int(delivery.rate_per_second), 1), 1.0,
                                     clock=clock, sleep=sleep))
    if delivery.rate_per_minute:
        windows.append(SlidingWindow(max(int(delivery.rate_per_minute), 1), 60.0,
                                     clock=clock, sleep=sleep))
    return Limits(windows)


class Sender:
    """One run of the loop over one stored edition."""

    def __init__(self, config: Config, db, stored: StoredEdition, backend: Backend, *,
                 signer: TokenSigner, stop: Event | None = None,
                 progress: Progress | None = None, clock=time.monotonic, sleep=time.sleep,
                 rng=random.random):
        self.config, self.db, self.stored, self.backend = config, db, stored, backend
        self.delivery = config.delivery
        self.stop = stop or Event()
        self.progress = progress
        self.clock, self.sleep, self.rng = clock, sleep, rng
        self.job = make_job(config, stored.edition, stored.rendered)
        self.make_recipient = RecipientFactory(config, self.job, signer)
        self.limits = limits_for(self.delivery, clock=clock, sleep=sleep)
        wanted = self.delivery.batch_size or backend.max_batch
        self.batch_size = max(1, min(wanted, backend.max_batch,
                                     self.limits.largest_batch or wanted))
        self.owner = new_owner()
        self.report = SendReport(edition_id=stored.id, list_name=stored.list_name,
                                 backend=backend.info.name, destination=backend.info.destination)
        self._attempted = 0
        self._failed = 0

    # -- the loop ------------------------------------------------------------------------------

    def run(self, *, resend_unknown: bool = False) -> SendReport:
        started = self.clock()
        edition_id = self.stored.id
        previous = claim_edition(self.db, edition_id, self.owner, backend=self.backend.info.name)
        status, reason = "paused", None
        try:
            # The audience is fixed when the send starts (one INSERT ... SELECT, atomic): a resume
            # neither adds people who subscribed since nor loses anyone.
            if previous == "ready" or not sum(self._counts().values()):
                ledger.populate(self.db, edition_id, self.stored.list_id)
            self.report.newly_unknown = ledger.mark_interrupted(self.db, edition_id)
            if resend_unknown:
                ledger.resend_unknown(self.db, edition_id)
            self._tally()
            self._passes()
            if self.stop.is_set():
                status, reason = "paused", "stopped by the operator (Ctrl-C or SIGTERM)"
                self.report.status = "interrupted"
            else:
                status = "sent" if self._left() == 0 else "paused"
                if status == "paused":
                    reason = "some deliveries are still pending"
        except Pause as exc:
            status, reason = "paused", str(exc)
            self.report.status = "paused"
        finally:
            self.backend.close()
            release_edition(self.db, edition_id, self.owner, status=status, reason=reason)
            self._tally()
            self.report.reason = reason
            if status == "paused" and self.report.status == "sent":
                self.report.status = "paused"
            self.report.seconds = self.clock() - started
            self.report.failures = ledger.failures(self.db, edition_id)
        return self.report

    def _passes(self) -> None:
        """Pass over pending rows until none are left; rows told 'retry' come back next pass."""
        for attempt in range(1, self.delivery.max_retries + 2):
            after, claimed_any = 0, False
            while not self.stop.is_set():
                batch = ledger.claim_batch(self.db, self.stored.id, self.stored.list_id,
                                           after=after, limit=self.batch_size, owner=self.owner)
                if batch.last_id is None:
                    break
                after = batch.last_id
                self._count(skipped=batch.skipped)
                if batch.claimed:
                    claimed_any = True
                    self._deliver([self.make_recipient(c.subscriber, c.delivery_id)
                                   for c in batch.claimed],
                                  {c.delivery_id: c.attempts for c in batch.claimed})
            if self.stop.is_set() or not claimed_any or self._counts()["pending"] == 0:
                return
            self.sleep(backoff(attempt, base=self.delivery.backoff_base,
                               cap=self.delivery.backoff_max, rng=self.rng))

    def _deliver(self, batch: list[Recipient], attempts: dict[int, int]) -> None:
        results = []
        for delivery_id, status, detail in self._post(batch):
            if status == "retry":
                tries = attempts[delivery_id]
                if tries > self.delivery.max_retries:
                    status, detail = "failed", f"gave up after {tries} tries: {detail}"
                else:
                    status = "pending"
            results.append((delivery_id, status, detail))
        ledger.record(self.db, results, edition_id=self.stored.id, owner=self.owner)
        sent = sum(st == "sent" for _, st, _ in results)
        failed = sum(st == "failed" for _, st, _ in results)
        self._count(sent=sent, failed=failed)
        self._budget(len(results), failed)

    def _post(self, batch: list[Recipient]) -> list[tuple[int, str, str]]:
        """(delivery id, status, detail) for each recipient of the batch."""
        delivery_of = {r.subscriber.id: r.delivery_id for r in batch}
        for attempt in range(1, self.delivery.max_retries + 2):
            self.limits.acquire(len(batch))
            self.report.requests += 1
            try:
                answers = self.backend.send_batch(self.job, batch)
            except DeliveryTooLarge as exc:
                if len(batch) == 1:
                    return [(batch[0].delivery_id, "failed", _describe(exc))]
                half = len(batch) // 2
                return self._post(batch[:half]) + self._post(batch[half:])
            except DeliveryAuthError as exc:
                self._release(batch)
                raise Pause(f"{_describe(exc)}; nothing more was sent") from None
            except DeliveryRefused as exc:
                results = [(r.delivery_id, "failed", _describe(exc)) for r in batch]
                ledger.record(self.db, results, edition_id=self.stored.id, owner=self.owner)
                self._count(failed=len(batch))
                raise Pause(f"the provider refused a batch of {len(batch)}: {_describe(exc)}; "
                            "it would refuse the rest the same way") from None
            except DeliveryTransient as exc:
                if attempt > self.delivery.max_retries:
                    self._release(batch)
                    raise Pause(f"gave up after {attempt} tries: {_describe(exc)}") from None
                wait = exc.retry_after if exc.retry_after is not None else backoff(
                    attempt, base=self.delivery.backoff_base, cap=self.delivery.backoff_max,
                    rng=self.rng)
                self.sleep(min(wait, self.delivery.backoff_max))
                continue
            return [(delivery_of[o.subscriber_id], o.status, o.detail) for o in answers]
        raise AssertionError("unreachable")

    # -- bookkeeping ---------------------------------------------------------------------------

    def _release(self, batch: list[Recipient]) -> None:
        """Not sent after all (the provider said so): back to pending for a later run."""
        ledger.record(self.db, [(r.delivery_id, "pending", None) for r in batch],
                      edition_id=self.stored.id, owner=self.owner)

    def _budget(self, attempted: int, failed: int) -> None:
        self._attempted += attempted
        self._failed += failed
        d = self.delivery
        if self._attempted >= d.error_budget_min and self._failed > d.error_budget * self._attempted:
            raise Pause(
                f"error budget spent: {self._failed} of {self._attempted} messages failed "
                f"(more than {d.error_budget:.0%}); look at the failures, then resume"
            )

    def _counts(self) -> dict[str, int]:
        return ledger.counts(self.db, self.stored.id)

    def _tally(self) -> None:
        """Read the report's figures from the ledger (at the start and the end only: counting a
        million rows after every batch would cost more than sending them)."""
        c = self._counts()
        r = self.report
        r.total = sum(c.values())
        r.sent, r.failed, r.skipped, r.unknown = c["sent"], c["failed"], c["skipped"], c["unknown"]
        r.pending = c["pending"] + c["sending"]
        self._progress()

    def _count(self, *, sent: int = 0, failed: int = 0, skipped: int = 0) -> None:
        r = self.report
        r.sent, r.failed, r.skipped = r.sent + sent, r.failed + failed, r.skipped + skipped
        r.pending -= sent + failed + skipped
        self._progress()

    def _progress(self) -> None:
        if self.progress:
            r = self.report
            self.progress(r.total - r.pending, r.total)

    def _left(self) -> int:
        c = self._counts()
        return c["pending"] + c["sending"]


def deliver(config: Config, db, stored: StoredEdition, backend: Backend, *,
            signer: TokenSigner, resend_unknown: bool = False, **kw) -> SendReport:
    """Send (or resume) a stored edition through a backend. The library call behind the CLI."""
    return Sender(config, db, stored, backend, signer=signer, **kw).run(
        resend_unknown=resend_unknown)


def _describe(exc: DeliveryError) -> str:
    parts = [str(exc)]
    if exc.detail and exc.detail not in str(exc):
        parts.append(exc.detail)
    return ": ".join(parts)
