"""Local-time schedules: the cron's time in each reader's own zone, one edition, one ledger.

A ``local_time`` schedule "0 7 * * *" fires at 07:00 in every zone its list's readers are in
(their ``timezone``, else the site's). Each firing sends the day's edition to the readers whose
07:00 has come and nobody else; the ledger makes sure nobody gets it twice.

Which edition: the readers' local day names it. At 07:00 on 2026-03-29 in Paris, in Casablanca
and in New York, readers get ``<list>-2026-03-29``: the site's edition of that day. A reader
east of the site reaches 07:00 while it is still the day before at the site (Tokyo's 07:00 is
22:00 in Casablanca): the edition is then built at that moment with its reference time at the
start of the site's day (00:00 there), so it is dated and named for the site's day and holds the
24 hours before that; it is built once, at the earliest zone's moment (or at ``--draft-at`` in
that zone), and the later zones get the same stored edition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from digest.config import Config
from digest.delivery.deadline import deadline_at
from digest.schedule.triggers import DailyCronTrigger, parse_cron, parse_draft_at, zone
from digest.store.readerzones import member_zones
from digest.store.schedules import Schedule


class LocalTimesTrigger(BaseTrigger):
    """The earliest of one DailyCronTrigger per zone: fires at the time in each of them."""

    def __init__(self, fields: dict[str, str], zones: Iterable[str]):
        self._setup(fields, zones)

    def _setup(self, fields: dict[str, str], zones: Iterable[str]) -> None:
        self.zones = sorted(set(zones))
        self.fields = dict(fields)
        self.triggers = [DailyCronTrigger(**self.fields, timezone=zone(z)) for z in self.zones]

    def get_next_fire_time(self, previous_fire_time, now):
        times = [t.get_next_fire_time(previous_fire_time, now) for t in self.triggers]
        times = [t.astimezone(UTC) for t in times if t is not None]
        return min(times) if times else None

    def __getstate__(self):
        return {"fields": self.fields, "zones": self.zones}

    def __setstate__(self, state):
        # Pickled as names (the job store): the zones come back from the tzdata package.
        self._setup(state["fields"], state["zones"])

    def __str__(self):
        return (
            f"local_time[{self.fields['hour']}:{self.fields['minute']} in {len(self.zones)} zones]"
        )


def _fields(s: Schedule, *, draft: bool = False) -> dict[str, str] | None:
    fields = parse_cron(s.cron)
    if draft:
        at = parse_draft_at(s.draft_at, fields)
        if at is None:
            return None
        fields.update(hour=str(at[0]), minute=str(at[1]))
    return fields


def send_trigger(s: Schedule, zones: Iterable[str]) -> LocalTimesTrigger:
    return LocalTimesTrigger(_fields(s), zones)  # type: ignore[arg-type]


def draft_trigger(s: Schedule, zones: Iterable[str]) -> LocalTimesTrigger | None:
    fields = _fields(s, draft=True)
    return None if fields is None else LocalTimesTrigger(fields, zones)


def zone_moment(fields: dict[str, str], tz: ZoneInfo, day: date) -> datetime | None:
    """The cron's time on ``day`` in ``tz`` (DST rules of DailyCronTrigger), or None when the
    cron does not fire that day."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    t = DailyCronTrigger(**fields, timezone=tz).get_next_fire_time(None, start)
    if t is None or t.astimezone(tz).date() != day:
        return None
    return t.astimezone(UTC)


def due(
    s: Schedule, zones: Iterable[str], now: datetime, *, draft: bool = False
) -> tuple[date, str, frozenset[str]] | None:
    """(the readers' day, the zone whose moment is the latest that has come, every zone whose
    moment that day has come) at ``now``; None when no zone has a moment in the last day.

    Every zone whose moment has come is included, not only the one firing: a reader who moved
    to a zone already past (or joined late) is caught up by the next firing, still once."""
    fields = _fields(s, draft=draft)
    if fields is None:
        return None
    zones = list(zones)
    now = now.astimezone(UTC)
    latest: tuple[datetime, date, str] | None = None
    for name in zones:
        tz = zone(name)
        today = now.astimezone(tz).date()
        for day in (today, today - timedelta(days=1)):
            m = zone_moment(fields, tz, day)
            if m is not None and m <= now:
                if latest is None or m > latest[0]:
                    latest = (m, day, name)
                break
    if latest is None or now - latest[0] > timedelta(days=1):
        return None
    _, day, firing = latest
    come = frozenset(
        name
        for name in zones
        if (m := zone_moment(fields, zone(name), day)) is not None and m <= now
    )
    return day, firing, come


def site_reference(site_tz: ZoneInfo, day: date, now: datetime) -> datetime:
    """The reference time of the edition of the site's ``day`` built at ``now``: ``now``, kept
    inside that day at the site (a reader east of the site reaches the day first)."""
    start = datetime(day.year, day.month, day.day, tzinfo=site_tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=site_tz)
    local = now.astimezone(site_tz)
    if local < start:
        return start
    if local >= end:
        return end - timedelta(seconds=1)
    return local


def firing_zones(config: Config, db, s: Schedule) -> list[str]:
    """The zones a local-time schedule fires in: its readers', plus its own zone (the site's by
    default), so that ``digest health`` finds a run at the schedule's own time every day."""
    return sorted({*member_zones(db, s.list_name, config.site.timezone), s.timezone})


@dataclass(frozen=True)
class Moment:
    """One firing of a local-time schedule: what to build or send, and to whom."""

    day: date  # the readers' day, which names the edition
    reference: datetime  # the edition's reference time (inside the site's day)
    zones: frozenset[str]  # the readers to send to now
    deadline: datetime | None  # the schedule's deadline in the firing zone


def local_moment(
    config: Config, db, s: Schedule, now: datetime, *, draft: bool = False
) -> Moment | None:
    found = due(s, firing_zones(config, db, s), now, draft=draft)
    if found is None:
        return None
    day, firing, zones = found
    deadline = deadline_at(s.deadline, day=day, tz=zone(firing)) if s.deadline else None
    return Moment(day, site_reference(config.site.tz, day, now), zones, deadline)
