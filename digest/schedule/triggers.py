"""When a schedule fires: its daily cron trigger in the list's time zone, the draft time before it,
the last run that was due. Pure time arithmetic; APScheduler's wiring is in scheduler.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from digest.store.schedules import Schedule, ScheduleError
from digest.zones import UnknownZone
from digest.zones import zone as tzdata_zone

MISFIRE_GRACE = timedelta(minutes=30)


_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DailyCronTrigger(CronTrigger):
    """A cron trigger for one fixed wall-clock time a day that fires exactly once a local day.

    CronTrigger alone gets both clock changes wrong for a morning digest:
    - a time that does not exist (02:30 on the Paris spring-forward day) comes back as the
      non-existent wall time, i.e. 03:30; it fires at the end of the gap instead (03:00, the
      first instant after it);
    - a time that happens twice (02:30 on fall-back day) fires at both, and a job computed
      between the two gets the second; only the first ever fires.
    The zone should come from digest.zones (the tzdata package; it pickles as its name).
    """

    def get_next_fire_time(self, previous_fire_time, now):
        while True:
            nxt = super().get_next_fire_time(previous_fire_time, now)
            if nxt is None:
                return None
            real = _real(nxt, self.timezone)
            if real is None:  # the second of a repeated wall time: today's ran at the first
                now = nxt.astimezone(UTC) + timedelta(seconds=1)
                previous_fire_time = None
                continue
            return real

    def __setstate__(self, state):
        tz = state.get("timezone")
        # A job stored before zones came from the tzdata package has a system ZoneInfo.
        name = tz if isinstance(tz, str) else getattr(tz, "key", None)
        if name:
            state = {**state, "timezone": tzdata_zone(name)}
        super().__setstate__(state)


def _real(moment: datetime, tz) -> datetime | None:
    """The instant CronTrigger meant by ``moment`` (a wall time in ``tz``), as a wall time that
    exists: a time in a spring-forward gap -> the end of the gap; the second occurrence of a
    repeated time -> None (skip it); anything else unchanged."""
    instant = moment.astimezone(UTC)
    wall = instant.astimezone(tz)
    if wall.replace(tzinfo=None) != moment.replace(tzinfo=None, fold=0):
        # Not the wall time asked for: it fell in a gap. The gap ends at the zone's transition,
        # between the instants the wall time means with the offsets before and after it.
        naive = moment.replace(tzinfo=None, fold=0)
        low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        high = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
        low, high = min(low, high), max(low, high)
        after = high.astimezone(tz).utcoffset()
        # zoneinfo does not expose its transitions: bisect on whole seconds (they all are).
        while high - low > timedelta(seconds=1):
            mid = low + (high - low) / 2
            mid = mid.replace(microsecond=0)
            if mid.astimezone(tz).utcoffset() == after:
                high = mid
            else:
                low = mid
        return high.astimezone(tz)
    if wall.fold == 1 and wall.replace(fold=0).astimezone(UTC) != instant:
        return None
    return wall


def parse_cron(expr: str) -> dict[str, str]:
    """Five crontab fields -> CronTrigger arguments, with crontab's day-of-week numbers
    (0 or 7 = Sunday; APScheduler's own numbers start at Monday, a classic trap)."""
    parts = expr.split()
    if len(parts) != 5:
        raise ScheduleError(f"cron {expr!r} needs five fields: minute hour day month weekday")
    minute, hour, day, month, dow = parts
    # One edition per list and local day: a schedule fires once a day at most.
    if not (minute.isdigit() and hour.isdigit()):
        raise ScheduleError(
            f"cron {expr!r}: the minute and hour must be single numbers (one "
            "edition per list and day), e.g. '0 7 * * *'"
        )
    dow = re.sub(
        r"\d", lambda m: _DOW_NAMES[int(m.group())] if m.group() in "01234567" else m.group(), dow
    )
    fields = {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": dow}
    try:
        CronTrigger(**fields, timezone=UTC)
    except ValueError as exc:
        raise ScheduleError(f"cron {expr!r}: {exc}") from None
    return fields


def zone(name: str) -> ZoneInfo:
    """The schedule's zone from the tzdata package; a ScheduleError when it is not one."""
    try:
        return tzdata_zone(name)
    except UnknownZone as exc:
        raise ScheduleError(str(exc)) from None


def parse_draft_at(value: str | None, cron: dict[str, str]) -> tuple[int, int] | None:
    if not value:
        return None
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ScheduleError(f"--draft-at {value!r} is not a time of day like 06:30")
    draft = (int(m[1]), int(m[2]))
    if draft >= (int(cron["hour"]), int(cron["minute"])):
        raise ScheduleError(
            f"--draft-at {value} must come before the send time "
            f"({int(cron['hour']):02d}:{int(cron['minute']):02d}) the same day"
        )
    return draft


def send_trigger(s: Schedule) -> DailyCronTrigger:
    return DailyCronTrigger(**parse_cron(s.cron), timezone=zone(s.timezone))


def draft_trigger(s: Schedule) -> DailyCronTrigger | None:
    fields = parse_cron(s.cron)
    draft = parse_draft_at(s.draft_at, fields)
    if draft is None:
        return None
    fields.update(hour=str(draft[0]), minute=str(draft[1]))
    return DailyCronTrigger(**fields, timezone=zone(s.timezone))


def validate(s: Schedule) -> None:
    """Everything `schedule add` must refuse before storing a row the scheduler would choke on."""
    send_trigger(s)
    draft_trigger(s)
    if s.min_stories < 0:
        raise ScheduleError("--min-stories must be 0 or more")
    if s.deadline:
        from digest.delivery.deadline import DeadlineError, parse_hhmm

        try:
            at = parse_hhmm(s.deadline)
        except DeadlineError as exc:
            raise ScheduleError(str(exc)) from None
        fields = parse_cron(s.cron)
        if at <= (int(fields["hour"]), int(fields["minute"])):
            raise ScheduleError(
                f"--deadline {s.deadline} must come after the send time the same day"
            )


def next_times(s: Schedule, now: datetime) -> tuple[datetime | None, datetime]:
    """(next draft, next send) after ``now``, in the schedule's zone. The draft shown is the one
    for the next send (it may already be past when the send is still to come)."""
    send = send_trigger(s).get_next_fire_time(None, now)
    draft_t = draft_trigger(s)
    draft = None
    if draft_t is not None:
        day_start = send.replace(hour=0, minute=0, second=0, microsecond=0)
        draft = draft_t.get_next_fire_time(None, day_start)
    return draft, send


def last_due(s: Schedule, now: datetime) -> datetime | None:
    """The latest send time at or before ``now`` (within 40 days), or None."""
    trigger = send_trigger(s)
    t = trigger.get_next_fire_time(None, now - timedelta(days=40))
    last = None
    while t is not None and t <= now:
        last, t = t, trigger.get_next_fire_time(t, t.astimezone(UTC) + timedelta(seconds=1))
    return last
