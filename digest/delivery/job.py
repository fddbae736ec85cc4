"""What one send is made of, apart from the loop that runs it: the job (the edition rendered once,
with its headers), the factory of each recipient's values (greeting, signed links, Message-ID),
the pacing limits from the config, the report, and the exceptions that stop a run."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.config import Config, DeliveryConfig
from digest.config.lists import variant_config
from digest.delivery.base import Recipient, SendJob
from digest.delivery.message import list_id
from digest.delivery.pacing import Limits, SlidingWindow
from digest.locale import match_locale
from digest.models import Edition, Rendered, Subscriber
from digest.render.personalize import Personalizer
from digest.render.strings import Greeter
from digest.render.tracking import READER, READER_PURPOSE, reader_value, tracked
from digest.store.claims import Claimed
from digest.store.editions import StoredEdition
from digest.tokens import TokenSigner

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class SendReport:
    edition_id: str
    list_name: str
    backend: str
    destination: str
    status: str = "sent"  # sent | paused | interrupted | cancelled
    reason: str | None = None
    total: int = 0  # ledger rows: every member of the list when the send started
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    pending: int = 0
    cancelled: int = 0
    retried: int = 0  # failed rows put back by retry_failed in this run
    resent: int = 0  # unknown rows put back by resend_unknown in this run
    newly_unknown: int = 0  # rows a crashed run left in flight, found at this start
    seconds: float = 0.0
    requests: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a deadline it cannot meet


class Pause(Exception):
    """Stop the loop and leave the edition paused with this reason."""


class Interrupted(Exception):
    """A stop request came while the loop waited: what was not posted is pending again."""


class Cancelled(Exception):
    """The operator cancelled the edition (``digest cancel``) while it was being sent."""


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

    def __init__(
        self, config: Config, job: SendJob, signer: TokenSigner, edition_id: str | None = None
    ):
        self.public_url = config.site.public_url
        # The tracking pixel's and links' per-subscriber part, when the job has them.
        self.reader = signer.derived(READER_PURPOSE) if READER in job.personalizer.keys else None
        self.edition_id = edition_id or job.edition.id
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
        if self.reader is not None:
            values[READER] = reader_value(self.reader, delivery_id, self.edition_id)
        message_id = f"{self._id_prefix}{subscriber.id:x}{self._id_suffix}"
        return Recipient(
            subscriber=subscriber, values=values, message_id=message_id, delivery_id=delivery_id
        )


class VariantJobs:
    """Each variant's job and recipient factory, and which variant a subscriber gets: their
    locale's (exact, then language), else the list's default. Looked up per distinct locale
    once, so a subscriber costs a dict lookup more than with one variant."""

    def __init__(
        self, config: Config, stored: StoredEdition, signer: TokenSigner, *, track: bool = False
    ):
        """``track``: the backend is one digest tracks itself ([tracking], SMTP and outbox)."""
        self.entries: dict[str, tuple[SendJob, RecipientFactory]] = {}
        for v in stored.all_variants():
            vc = variant_config(config, stored.list_name, v.locale)
            rendered = v.rendered
            if track:  # once per variant and send: a string rewrite, no render
                rendered = tracked(
                    rendered,
                    edition_id=stored.id,
                    public_url=vc.site.public_url,
                    signer=signer,
                    opens=config.tracking.opens,
                    clicks=config.tracking.clicks,
                )
            job = make_job(vc, v.edition, rendered)
            factory = RecipientFactory(vc, job, signer, edition_id=stored.id)
            self.entries.setdefault(v.locale, (job, factory))
        self.offered = tuple(self.entries)
        self.default_job, self.default_factory = self.entries[self.offered[0]]
        self._chosen: dict[str | None, str] = {}

    def locale_for(self, locale: str | None) -> str:
        chosen = self._chosen.get(locale)
        if chosen is None:
            chosen = self._chosen[locale] = match_locale(locale, self.offered, self.offered[0])
        return chosen

    def split(self, claimed: Iterable[Claimed]) -> list[tuple[SendJob, list[Recipient]]]:
        """A claimed batch as (variant's job, its recipients), in the batch's order."""
        if len(self.offered) == 1:
            make = self.default_factory
            return [(self.default_job, [make(c.subscriber, c.delivery_id) for c in claimed])]
        groups: dict[str, list[Recipient]] = {}
        for c in claimed:
            locale = self.locale_for(c.subscriber.locale)
            groups.setdefault(locale, []).append(
                self.entries[locale][1](c.subscriber, c.delivery_id)
            )
        return [(self.entries[locale][0], recipients) for locale, recipients in groups.items()]


def limits_for(delivery: DeliveryConfig, *, clock=time.monotonic, sleep=time.sleep) -> Limits:
    windows = []
    if delivery.rate_per_second:
        windows.append(
            SlidingWindow(max(int(delivery.rate_per_second), 1), 1.0, clock=clock, sleep=sleep)
        )
    if delivery.rate_per_minute:
        windows.append(
            SlidingWindow(max(int(delivery.rate_per_minute), 1), 60.0, clock=clock, sleep=sleep)
        )
    return Limits(windows)
