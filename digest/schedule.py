"""APScheduler wiring only: triggers, the job store, syncing jobs from the schedules table, and
the foreground scheduler with its lease.

Choices made on purpose (APScheduler's defaults are not what a morning digest wants):

- Jobs live in the project's database (SQLAlchemyJobStore, table JOBSTORE_TABLE), so a restart
  keeps each job's next run time: a scheduler down at 07:00 and back at 07:10 still sends.
- misfire_grace_time = 30 min: a run missed by less (restart, host asleep) still happens; a run
  missed by more is dropped and ``digest health`` reports the list overdue. Better no digest
  than one at noon.
- coalesce = True: several missed runs of one job run once. max_instances = 1: a slow send is
  never overlapped by the next firing.
- One scheduler per database (a lease row with a heartbeat): APScheduler must never share a job
  store between processes.
- Cron times are wall-clock in the schedule's zone, read from the tzdata package (digest.zones),
  never the system's database. A time that does not exist (spring forward) fires once, at the
  first instant after the gap (03:00 for 02:30 in Paris); a time that happens twice (fall back)
  fires the first time only, even for a job computed between the two (DailyCronTrigger). The
  edition id per local day backs this up.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Event
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import DigestError
from digest.store.schedules import Schedule, ScheduleError
from digest.zones import UnknownZone, tzdata_version
from digest.zones import zone as tzdata_zone

log = logging.getLogger("digest.scheduler")

JOBSTORE_TABLE = "digest_apscheduler_jobs"
MISFIRE_GRACE = timedelta(minutes=30)
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1,
                "misfire_grace_time": int(MISFIRE_GRACE.total_seconds())}

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
        raise ScheduleError(f"cron {expr!r}: the minute and hour must be single numbers (one "
                            "edition per list and day), e.g. '0 7 * * *'")
    dow = re.sub(r"\d", lambda m: _DOW_NAMES[int(m.group())] if m.group() in "01234567" else
                 m.group(), dow)
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
        raise ScheduleError(f"--draft-at {value} must come before the send time "
                            f"({int(cron['hour']):02d}:{int(cron['minute']):02d}) the same day")
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


# -- APScheduler -------------------------------------------------------------------------------

class _Scheduler(BackgroundScheduler):
    """APScheduler 3.11's shutdown wakes its loop for one last pass over due jobs after the
    executors are gone: the submit fails and the job's next run time is moved on, so a run due
    at that moment would be lost (not run, not retried after the restart). Do nothing instead."""

    def _process_jobs(self):
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()


def make_scheduler(db) -> BackgroundScheduler:
    """A scheduler whose jobs live in the project's database (own table), in UTC."""
    store = SQLAlchemyJobStore(engine=db.engine, tablename=JOBSTORE_TABLE)
    return _Scheduler(jobstores={"default": store}, job_defaults=JOB_DEFAULTS,
                               timezone=UTC)


def _job_ids(name: str) -> tuple[str, str]:
    return f"draft:{name}", f"send:{name}"


def sync_jobs(scheduler, schedules: list[Schedule], *, now: datetime | None = None) -> None:
    """Make the job store say what the schedules table says.

    A job whose schedule did not change is left alone, keeping its stored next run time: that is
    what lets a run missed while the scheduler was down still happen (within the grace time).
    """
    now = now or datetime.now(UTC)
    wanted = {}
    for s in schedules:
        draft_id, send_id = _job_ids(s.name)
        try:
            triggers = {send_id: ("send", send_trigger(s)), draft_id: ("draft", draft_trigger(s))}
        except ScheduleError as exc:
            log.error("schedule %s is invalid, not scheduled: %s", s.name, exc,
                      extra={"event": "sync", "list": s.list_name})
            continue
        for job_id, (kind, trigger) in triggers.items():
            if trigger is None:
                continue
            # The job's name carries its spec: a change of cron, zone, pause or time zone data
            # (a tzdata upgrade may move the stored next run time) replaces the job.
            spec = (f"{kind} {s.name}: {s.cron} {s.timezone} draft={s.draft_at} "
                    f"paused={s.paused} tzdata={tzdata_version()[1]}")
            wanted[job_id] = spec
            current = scheduler.get_job(job_id)
            if current is not None and current.name == spec:
                continue
            scheduler.add_job(
                "digest.schedule:run_job", trigger=trigger, args=(kind, s.name), id=job_id,
                name=spec, replace_existing=True, **JOB_DEFAULTS,
                # Computed from our clock (tests use a fake one); None = paused.
                next_run_time=None if s.paused else trigger.get_next_fire_time(None, now),
            )
            log.info("scheduled %s", spec, extra={"event": "sync", "list": s.list_name})
    for job in scheduler.get_jobs():
        if job.id not in wanted and not job.id.startswith("resume:"):  # one-off, see Runner
            scheduler.remove_job(job.id)
            log.info("unscheduled %s", job.name, extra={"event": "sync"})


# -- the job and the runner that gives it its context ---------------------------------------

class _Runtime:
    config = None
    db = None
    stop: Event = Event()
    out_dir: Path | None = None
    signer = None


def run_job(kind: str, name: str) -> None:
    """What APScheduler calls (importable by name; pickled args are just two strings)."""
    from digest.scheduled import run_draft, run_resume, run_send
    from digest.store.schedules import get_schedule

    rt = _Runtime
    if rt.config is None:
        raise DigestError("run_job called outside 'digest scheduler'")
    try:
        schedule = get_schedule(rt.db, name)
    except ScheduleError:
        log.warning("schedule %s was removed; skipping its %s run", name, kind,
                    extra={"event": kind})
        return
    now = datetime.now(UTC)
    if kind == "draft":
        run_draft(rt.config, rt.db, schedule, now)
    elif kind == "resume":
        run_resume(rt.config, rt.db, schedule, now, out_dir=rt.out_dir, signer=rt.signer,
                   stop=rt.stop)
    else:
        run_send(rt.config, rt.db, schedule, now, out_dir=rt.out_dir, signer=rt.signer,
                 stop=rt.stop)


class Runner:
    """``digest scheduler``: hold the lease, sync jobs, renew and resync until stopped."""

    def __init__(self, config, db, *, out_dir: Path, signer, stop: Event | None = None,
                 poll: float = 15.0):
        from digest.store.editions import new_owner

        self.config, self.db, self.out_dir, self.signer = config, db, out_dir, signer
        self.stop = stop or Event()
        self.poll = poll
        self.owner = new_owner()
        self.scheduler = None

    def start(self) -> None:
        from digest.store.schedules import acquire_lease, release_lease

        acquire_lease(self.db, self.owner)  # raises SchedulerBusy before touching the job store
        try:
            self._start()
        except BaseException:
            release_lease(self.db, self.owner)
            raise

    def _start(self) -> None:
        from digest.store.schedules import changes_stamp, list_schedules

        rt = _Runtime
        rt.config, rt.db, rt.stop = self.config, self.db, self.stop
        rt.out_dir, rt.signer = self.out_dir, self.signer
        self.scheduler = make_scheduler(self.db)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self.scheduler.start(paused=True)
        self._stamp = changes_stamp(self.db)
        schedules = list_schedules(self.db)
        sync_jobs(self.scheduler, schedules)
        for s in schedules:
            # A stop (SIGTERM on a deploy) left today's send half done: finish it now, once.
            if s.last_status == "interrupted" and not s.paused:
                self.scheduler.add_job("digest.schedule:run_job", "date", args=("resume", s.name),
                                       id=f"resume:{s.name}", name=f"resume {s.name}",
                                       replace_existing=True, **JOB_DEFAULTS,
                                       run_date=datetime.now(UTC))
        self.scheduler.resume()
        log.info("scheduler started (%s), %d job(s)", self.owner, len(self.scheduler.get_jobs()),
                 extra={"event": "start"})

    def run(self) -> None:
        """Block until stop is set (SIGTERM) or the lease is lost, then shut down cleanly."""
        from digest.store.outage import Retry
        from digest.store.schedules import changes_stamp, list_schedules, renew_lease

        # An idle scheduler rides out a database outage (PostgreSQL restarting) for a bounded
        # time, with one line when it starts and one when it ends; past it, a sentence.
        retry = Retry(self.config.delivery.database_retry_seconds,
                      then="the scheduler stops; start it again once the database is back",
                      say=lambda text: log.warning(text, extra={"event": "database"}))
        try:
            while not self.stop.wait(self.poll):
                if not retry(renew_lease, self.db, self.owner):
                    log.error("lost the scheduler lease to another process; stopping",
                              extra={"event": "lease"})
                    break
                stamp = retry(changes_stamp, self.db)
                if stamp != self._stamp:
                    self._stamp = stamp
                    sync_jobs(self.scheduler, retry(list_schedules, self.db))
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        from digest.store.schedules import release_lease

        self.stop.set()  # a send in flight finishes its batch and pauses, resumable
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        try:
            release_lease(self.db, self.owner)
        except SQLAlchemyError as exc:  # the database is down: the lease goes stale by itself
            log.warning("could not release the scheduler lease (%s); it goes stale by itself",
                        getattr(exc, "orig", None) or exc, extra={"event": "lease"})
        _Runtime.config = None
        log.info("scheduler stopped", extra={"event": "stop"})

    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("%s missed its run at %s (more than %d min late): not run",
                        event.job_id, event.scheduled_run_time,
                        int(MISFIRE_GRACE.total_seconds() // 60), extra={"event": "missed"})
        else:
            # run_send records the outcomes it knows; this is a bug or a database outage.
            log.error("%s failed: %r\n%s", event.job_id, event.exception, event.traceback,
                      extra={"event": "error"})
