"""The one delivery loop, shared by every backend.

It streams the list from the database in batches (never the whole list in memory), computes
each subscriber's values (greeting, signed unsubscribe and preference links) and hands the batch
to the backend. The edition itself was rendered once before the loop starts; per subscriber
there is only substitution.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.config import Config
from digest.delivery.base import Backend, Outcome, Recipient, SendJob
from digest.delivery.message import list_id
from digest.models import Edition, Rendered, Subscriber
from digest.render.personalize import Personalizer
from digest.render.strings import Greeter
from digest.store.subscribers import count_members, iter_active
from digest.tokens import TokenSigner

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class SendReport:
    edition_id: str
    list_name: str
    backend: str
    destination: str
    total: int = 0  # active subscribers the send was for
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # unsubscribed or suppressed members, never sent to
    seconds: float = 0.0
    dry_run: bool = False
    failures: list[Outcome] = field(default_factory=list)


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

    def __call__(self, subscriber: Subscriber) -> Recipient:
        token = self.sign(subscriber.id, self.list_name)
        values = {
            "greeting": self.greeting(subscriber.name),
            "unsubscribe_url": f"{self.public_url}/u/{token}",
            "preferences_url": f"{self.public_url}/p/{token}",
        }
        message_id = f"{self._id_prefix}{subscriber.id:x}{self._id_suffix}"
        return Recipient(subscriber=subscriber, values=values, message_id=message_id)


def send_edition(
    config: Config,
    db,
    job: SendJob,
    backend: Backend,
    *,
    signer: TokenSigner,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> SendReport:
    started = time.monotonic()
    counts = count_members(db, job.edition.list_name)
    report = SendReport(
        edition_id=job.edition.id,
        list_name=job.edition.list_name,
        backend=backend.info.name,
        destination=backend.info.destination,
        total=counts["active"],
        skipped=counts["unsubscribed"] + counts["suppressed"],
        dry_run=dry_run,
    )
    if dry_run:
        report.seconds = time.monotonic() - started
        return report
    make_recipient = RecipientFactory(config, job, signer)
    done = 0
    try:
        for subscribers in iter_active(db, job.edition.list_name, batch_size=batch_size):
            batch = [make_recipient(s) for s in subscribers]
            for outcome in backend.send_batch(job, batch):
                if outcome.status == "sent":
                    report.sent += 1
                else:
                    report.failed += 1
                    if len(report.failures) < 100:
                        report.failures.append(outcome)
            done += len(batch)
            if progress:
                progress(done, report.total)
    finally:
        backend.close()
        report.seconds = time.monotonic() - started
    return report
