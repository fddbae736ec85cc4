"""Prometheus metrics, read from the database at scrape time.

The scheduler and the web app are separate processes, so counters kept in memory here would
miss every send the scheduler made. Instead a collector turns the tables into metrics on each
scrape: the ledger, webhook events, editions, the scheduler lease. Labels are list, backend,
status, event kind and source names -- names the operator chose or fixed vocabularies, never an
address, a token or text from a subscriber -- and each label's values are capped so a runaway
table cannot blow up the series count.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)
from sqlalchemy.exc import SQLAlchemyError

from digest.delivery.events import EVENTS
from digest.store import stats
from digest.store.schedules import lease_holder
from digest.store.schema import DELIVERY_STATUSES

log = logging.getLogger("digest.web")
MAX_VALUES = 100  # distinct lists (and sources per list) exported; more are counted as "other"
BACKENDS = ("outbox", "smtp", "sendgrid", "none")


class DatabaseCollector:
    """A prometheus_client custom collector over one digest database."""

    def __init__(self, db, clock=lambda: datetime.now(UTC)):
        self.db, self.clock = db, clock

    def describe(self):
        return []  # the series depend on the data: nothing to check at registration

    def collect(self):
        up = GaugeMetricFamily("digest_database_up", "1 if the database answered this scrape.")
        try:
            families = list(self._families())
        except SQLAlchemyError as exc:
            log.warning(
                "metrics: the database does not answer: %s", getattr(exc, "orig", None) or exc
            )
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        names = _Capped()
        messages = GaugeMetricFamily(
            "digest_messages",
            "Send-ledger rows (one per edition and subscriber) by status.",
            labels=["list", "backend", "status"],
        )
        for list_name, backend, status, n in stats.message_counts(self.db):
            messages.add_metric(
                [
                    names.list(list_name),
                    _known(backend, BACKENDS),
                    _known(status, DELIVERY_STATUSES),
                ],
                n,
            )
        yield messages

        events = CounterMetricFamily(
            "digest_webhook_events", "SendGrid webhook events received, by type.", labels=["type"]
        )
        for kind, n in sorted(stats.event_counts(self.db).items()):
            events.add_metric([_known(kind, EVENTS)], n)
        yield events

        durations = SummaryMetricFamily(
            "digest_edition_send_seconds",
            "Time from the first claim of an edition to the end of its send, sent editions.",
            labels=["list"],
        )
        for list_name, (count, total) in sorted(stats.send_durations(self.db).items()):
            durations.add_metric([names.list(list_name)], count_value=count, sum_value=total)
        yield durations

        build = GaugeMetricFamily(
            "digest_edition_build_seconds",
            "Build time of each list's latest edition (sources to render).",
            labels=["list"],
        )
        failures = GaugeMetricFamily(
            "digest_source_fetch_failures",
            "Sources that failed (fetch or parse) in each list's latest edition.",
            labels=["list"],
        )
        source_up = GaugeMetricFamily(
            "digest_source_up",
            "1 if the source was read in the list's latest edition.",
            labels=["list", "source"],
        )
        latest = GaugeMetricFamily(
            "digest_edition_latest_timestamp_seconds",
            "When each list's latest edition was stored, with its status.",
            labels=["list", "status"],
        )
        for e in stats.latest_editions(self.db):
            list_label = names.list(e.list_name)
            if e.build_seconds is not None:
                build.add_metric([list_label], e.build_seconds)
            failures.add_metric([list_label], sum(1 for _, ok in e.sources if not ok))
            for source, ok in e.sources[:MAX_VALUES]:
                source_up.add_metric([list_label, source], 1 if ok else 0)
            latest.add_metric([list_label, e.status], e.created_at.timestamp())
        yield from (build, failures, source_up, latest)

        held = GaugeMetricFamily(
            "digest_scheduler_lease_held", "1 if a scheduler holds the lease on this database."
        )
        age = GaugeMetricFamily(
            "digest_scheduler_lease_age_seconds",
            "Seconds since the scheduler last renewed its lease (renewed every 15 s).",
        )
        lease = lease_holder(self.db)
        held.add_metric([], 1 if lease else 0)
        if lease is not None:
            age.add_metric([], max(0.0, (self.clock() - lease.heartbeat_at).total_seconds()))
        yield from (held, age)


class _Capped:
    """List names as labels, at most MAX_VALUES of them per scrape."""

    def __init__(self):
        self.seen: set[str] = set()

    def list(self, name: str) -> str:
        if name in self.seen or len(self.seen) < MAX_VALUES:
            self.seen.add(name)
            return name
        return "other"


def _known(value: str, vocabulary) -> str:
    return value if value in vocabulary else "other"


def registry_for(db) -> CollectorRegistry:
    """A registry of our own: the global one would mix in whatever else the process registered
    and keep our collector alive across apps (tests make many)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
