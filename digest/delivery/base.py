"""What every delivery backend is handed and what it answers. Backends only build, post, parse.

The send loop (digest/delivery/loop.py) owns batching, pacing, retries, the ledger and the error budget.
A backend turns one batch of recipients into requests or messages and answers in one of two ways:

- one ``Outcome`` per recipient, in any order: ``sent``, ``failed`` (permanent for that
  recipient only, e.g. an SMTP 550 for one address), ``retry`` (temporary for that recipient
  only, e.g. an SMTP 450) or ``unknown`` (handed over, answer lost: it may have arrived, so it
  is never retried blindly);
- or it raises a ``digest.errors.DeliveryError`` subclass for the whole batch:
  ``DeliveryTransient`` (the loop waits ``retry_after`` or backs off, then retries),
  ``DeliveryTooLarge`` (the loop splits the batch), ``DeliveryAuthError`` (the loop stops),
  ``DeliveryRefused`` (the batch failed; the loop pauses the send, since it is systematic),
  ``DeliveryUncertain`` (the request was sent but its answer lost: the batch is 'unknown').

The ambiguity rule: an error before the request or message was wholly handed over (connection
refused, reset while connecting or writing, a reply refusing it) is safe to retry; a timeout or
a dropped connection after it was handed over, before the answer, is not.

A backend never sleeps, retries or records anything itself. One whose requests take long to
build may split ``send_batch`` in two: ``prepare(job, batch)`` builds the request (no I/O, safe
in another thread) and ``send_prepared(request)`` posts it; the loop then builds the next
batch's request while the current one is in flight (digest/delivery/ahead.py). SendGrid does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from digest.delivery.message import Envelope
from digest.models import Edition, Rendered, Subscriber
from digest.render.personalize import Personalizer

# What a backend says of one recipient.
Status = Literal["sent", "failed", "retry", "unknown"]


@dataclass(frozen=True)
class SendJob:
    """Everything shared by all the messages of one send: built once, before the first batch."""

    edition: Edition
    rendered: Rendered
    personalizer: Personalizer
    from_email: str
    from_name: str
    list_id: str
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    date: datetime | None = None


@dataclass(frozen=True)
class Recipient:
    subscriber: Subscriber
    values: Mapping[str, str]  # raw per-subscriber values: greeting, unsubscribe_url, ...
    message_id: str
    delivery_id: int | None = None  # the ledger row: goes to providers, never personal data

    def envelope(self, job: SendJob) -> Envelope:
        return Envelope(
            from_email=job.from_email,
            from_name=job.from_name,
            to_email=self.subscriber.email,
            to_name=self.subscriber.name,
            subject=job.rendered.subject,
            list_id=job.list_id,
            unsubscribe_url=self.values["unsubscribe_url"],
            unsubscribe_mailto=job.unsubscribe_mailto,
            reply_to=job.reply_to,
            message_id=self.message_id,
            date=job.date,
        )


@dataclass(frozen=True)
class Outcome:
    subscriber_id: int
    status: Status
    detail: str = ""


@dataclass
class BackendInfo:
    name: str
    destination: str  # where messages go, for the operator's summary (never a secret)
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    info: BackendInfo
    max_batch: int  # the most recipients one send_batch call may be given

    def send_batch(self, job: SendJob, batch: Sequence[Recipient]) -> list[Outcome]: ...

    def close(self) -> None: ...
