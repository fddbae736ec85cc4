"""SMTP over several connections at once (``[smtp] connections``, default 1).

A relay takes its time per message (queueing it, often an fsync), and one connection waits for
each reply in turn. With N connections each batch is cut into N contiguous parts, each sent by
its own ``SmtpBackend`` (its own connection, opened once and reused, reconnected under the same
rules) in a thread of its own; the outcomes come back in batch order. Relays limit connections
per client, so the default stays 1 (then this module is not used at all).

The rules of digest/delivery/smtp.py hold for the batch as a whole: a batch-wide error is
raised only while nothing of the batch was handed over, on any connection. When one part
raised but another sent something, the raising part's recipients come back as "retry" with the
reason (the loop sends them again, like a batch cut short), and the next batch meets the error
again before anything is sent, and raises it. The ledger, the retries and the pacing stay the
loop's: it sees one backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from digest.config import SmtpConfig
from digest.delivery.base import BackendInfo, Outcome, Recipient, SendJob
from digest.delivery.smtp import SmtpBackend
from digest.errors import DeliveryAuthError, DeliveryError, DeliveryRefused

log = logging.getLogger(__name__)


class PooledSmtpBackend:
    """``connections`` SmtpBackends behind the one Backend the loop sees."""

    def __init__(self, config: SmtpConfig, *, connections: int, ssl_context=None):
        if connections < 2:
            raise ValueError("a pool is for 2 connections or more; use SmtpBackend for one")
        self.backends = [SmtpBackend(config, ssl_context=ssl_context) for _ in range(connections)]
        self.max_batch = SmtpBackend.max_batch * connections
        first = self.backends[0].info
        self.info = BackendInfo(
            name=first.name, destination=f"{first.destination}, {connections} connections"
        )
        self._pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="digest-smtp")

    @property
    def connections_opened(self) -> int:
        return sum(b.connections_opened for b in self.backends)

    def send_batch(self, job: SendJob, batch: Sequence[Recipient]) -> list[Outcome]:
        parts = _split(batch, len(self.backends))
        futures = [
            self._pool.submit(backend.send_batch, job, part)
            for backend, part in zip(self.backends, parts, strict=False)
        ]
        answers: list[list[Outcome] | DeliveryError] = []
        for future in futures:
            try:
                answers.append(future.result())
            except DeliveryError as exc:  # that part sent nothing (smtp.py's rule)
                answers.append(exc)
        errors = [a for a in answers if isinstance(a, DeliveryError)]
        handed_over = any(
            o.status in ("sent", "unknown")
            for a in answers
            if not isinstance(a, DeliveryError)
            for o in a
        )
        if errors and not handed_over:
            raise _gravest(errors)
        outcomes: list[Outcome] = []
        for part, answer in zip(parts, answers, strict=True):
            if isinstance(answer, DeliveryError):
                log.warning("SMTP part of %d cut short while others sent: %s", len(part), answer)
                outcomes += [Outcome(r.subscriber.id, "retry", f"not sent: {answer}") for r in part]
            else:
                outcomes += answer
        return outcomes

    def close(self) -> None:
        for backend in self.backends:
            backend.close()

    def __enter__(self) -> PooledSmtpBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def smtp_backend(config: SmtpConfig, *, ssl_context=None) -> SmtpBackend | PooledSmtpBackend:
    """One connection (``SmtpBackend``) unless ``smtp.connections`` asks for more."""
    if config.connections > 1:
        return PooledSmtpBackend(config, connections=config.connections, ssl_context=ssl_context)
    return SmtpBackend(config, ssl_context=ssl_context)


def _split(batch: Sequence[Recipient], n: int) -> list[Sequence[Recipient]]:
    """At most ``n`` contiguous, non-empty parts of nearly equal size, in order."""
    n = max(1, min(n, len(batch)))
    size, extra = divmod(len(batch), n)
    parts, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        parts.append(batch[start:end])
        start = end
    return parts


def _gravest(errors: list[DeliveryError]) -> DeliveryError:
    """The error the loop must act on: a refused login stops it, a refused sender pauses it,
    anything else is retried."""
    for kind in (DeliveryAuthError, DeliveryRefused):
        for exc in errors:
            if isinstance(exc, kind):
                return exc
    return errors[0]
