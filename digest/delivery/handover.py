"""Handing claimed batches to the backend: one hand-over per locale variant in a batch, split
in halves when the provider finds it too large, retried when the failure is transient (backoff
with jitter, or the provider's Retry-After), and every answer recorded.

Answers are kept until the next claim, which writes them in its own transaction (one commit
per batch), or written on their own (``flush``) before anything else is posted, when the
passes end, or when the loop stops early: nothing is posted while an earlier answer is unwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Event

from digest.config.model import DeliveryConfig
from digest.delivery.ahead import Ready
from digest.delivery.base import Backend, Recipient, SendJob
from digest.delivery.job import Interrupted, Pause, SendReport, VariantJobs
from digest.delivery.pacing import backoff
from digest.delivery.tally import Tally
from digest.errors import (
    DeliveryAuthError,
    DeliveryError,
    DeliveryRefused,
    DeliveryTooLarge,
    DeliveryTransient,
    DeliveryUncertain,
)
from digest.store import ledger
from digest.store.outage import Retry


class HandOver:
    """The hand-over half of one send (the loop claims; this posts and records)."""

    def __init__(
        self,
        *,
        db,
        edition_id: str,
        owner: str,
        backend: Backend,
        variants: VariantJobs,
        delivery: DeliveryConfig,
        limits,
        stop: Event,
        sleep: Callable[[float], object],
        rng: Callable[[], float],
        retry: Retry,
        report: SendReport,
        tally: Tally,
    ):
        self.db, self.edition_id, self.owner = db, edition_id, owner
        self.backend, self.variants, self.delivery = backend, variants, delivery
        self.limits, self.stop, self.sleep, self.rng = limits, stop, sleep, rng
        self.retry, self.report, self.tally = retry, report, tally
        # Answers not written yet: they go with the next claim, in its transaction (one commit
        # per batch), or on their own before anything else is posted or the passes end.
        self.answers: list[tuple[int, str, str | None]] = []
        self.sent_this_run = 0  # for the measured rate

    def deliver_variants(self, claimed, ready: list[Ready]) -> None:
        """A claimed batch, one hand-over per locale variant in it (``ready``: each variant's
        recipients and prepared request, see ahead.py); when the loop stops on one, the
        variants not yet handed over go back to pending (never in flight)."""
        attempts = {c.delivery_id: c.attempts for c in claimed}
        for i, part in enumerate(ready):
            try:
                self.deliver(part.job, part.recipients, attempts, part.prepared)
            except (Pause, Interrupted):
                rest = sorted(ledger_row(r) for later in ready[i + 1 :] for r in later.recipients)
                self.answers.extend((row, "pending", None) for row in rest)
                self.flush()
                raise

    def deliver(
        self,
        job: SendJob,
        batch: list[Recipient],
        attempts: dict[int, int],
        prepared: object | None = None,
    ) -> None:
        """Post one claimed batch; every row ends recorded, or back to pending if the loop
        stops before handing it over."""
        unanswered = {ledger_row(r) for r in batch}
        try:
            self.post(job, batch, attempts, unanswered, prepared)
        except (Pause, Interrupted):
            # never handed over (or refused before it was): not in flight
            self.answers.extend((i, "pending", None) for i in sorted(unanswered))
            self.flush()
            raise

    def flush(self) -> None:
        """Write the answers not written yet (those of a split batch's first half before the
        second half is posted; the last batch's when the passes end)."""
        if self.answers:
            self.retry(
                ledger.record, self.db, self.answers, edition_id=self.edition_id, owner=self.owner
            )
            self.answers = []

    def post(
        self,
        job: SendJob,
        batch: list[Recipient],
        attempts: dict[int, int],
        unanswered: set[int],
        prepared: object | None = None,
    ) -> None:
        """Hand ``batch`` to the backend and record its answer at once (each half of a split
        batch as its own answer comes: a refusal of the second half leaves the first sent).
        ``prepared``: the backend's request for exactly ``batch``, built ahead."""
        delivery_of = {r.subscriber.id: ledger_row(r) for r in batch}
        d = self.delivery
        for attempt in range(1, d.max_retries + 2):
            self.flush()
            self.limits.acquire(len(batch))
            if self.stop.is_set():
                raise Interrupted
            self.report.requests += 1
            try:
                if prepared is not None:
                    answers = self.backend.send_prepared(prepared)  # type: ignore[attr-defined]
                else:
                    answers = self.backend.send_batch(job, batch)
            except DeliveryTooLarge as exc:
                if len(batch) == 1:
                    self.record(
                        [(ledger_row(batch[0]), "failed", describe(exc))], attempts, unanswered
                    )
                    return
                half = len(batch) // 2
                self.post(job, batch[:half], attempts, unanswered)
                self.post(job, batch[half:], attempts, unanswered)
                return
            except DeliveryAuthError as exc:
                raise Pause(f"{describe(exc)}; nothing more was sent") from None
            except DeliveryRefused as exc:
                self.record(
                    [(ledger_row(r), "failed", describe(exc)) for r in batch],
                    attempts,
                    unanswered,
                    budget=False,
                )
                raise Pause(
                    f"the provider refused a batch of {len(batch)}: {describe(exc)}; "
                    "it would refuse the rest the same way. Fix the cause, then run "
                    "the same command with --retry-failed"
                ) from None
            except DeliveryUncertain as exc:
                # Handed over, answer lost: it may have arrived. Same rule as a crash.
                self.record(
                    [(ledger_row(r), "unknown", describe(exc)) for r in batch], attempts, unanswered
                )
                return
            except DeliveryTransient as exc:
                if attempt > d.max_retries:
                    raise Pause(f"gave up after {attempt} tries: {describe(exc)}") from None
                if exc.retry_after is not None:
                    wait = exc.retry_after  # the provider's word, not our backoff cap
                    if wait > d.retry_after_max:
                        raise Pause(
                            f"{describe(exc)}: that is more than delivery.retry_after_max "
                            f"({d.retry_after_max:g} s); run the same command again "
                            "later"
                        ) from None
                else:
                    wait = backoff(attempt, base=d.backoff_base, cap=d.backoff_max, rng=self.rng)
                self.sleep(wait)
                if self.stop.is_set():
                    raise Interrupted from None
                continue
            self.record(
                [(delivery_of[o.subscriber_id], o.status, o.detail) for o in answers],
                attempts,
                unanswered,
            )
            return
        raise AssertionError("unreachable")

    def record(
        self,
        answers: list[tuple[int, str, str | None]],
        attempts: dict[int, int],
        unanswered: set[int],
        *,
        budget: bool = True,
    ) -> None:
        results = []
        for delivery_id, status, detail in answers:
            if status == "retry":
                tries = attempts[delivery_id]
                if tries > self.delivery.max_retries:
                    status, detail = "failed", f"gave up after {tries} tries: {detail}"
                else:
                    status = "pending"
            results.append((delivery_id, status, detail))
        self.answers.extend(results)  # written with the next claim (see _flush)
        unanswered.difference_update(i for i, _, _ in results)
        sent = sum(st == "sent" for _, st, _ in results)
        failed = sum(st == "failed" for _, st, _ in results)
        unknown = sum(st == "unknown" for _, st, _ in results)
        self.sent_this_run += sent
        self.tally.count(sent=sent, failed=failed, unknown=unknown)
        if budget:  # an unknown did not arrive as far as we know: it spends the budget too
            self.tally.budget(len(results), failed + unknown)


def describe(exc: DeliveryError) -> str:
    parts = [str(exc)]
    if exc.detail and exc.detail not in str(exc):
        parts.append(exc.detail)
    return ": ".join(parts)


def ledger_row(recipient: Recipient) -> int:
    """The ledger row of a claimed recipient (every recipient the loop sends has one)."""
    assert recipient.delivery_id is not None, "a claimed recipient without its ledger row"
    return recipient.delivery_id
