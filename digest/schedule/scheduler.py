"""APScheduler wiring only: the job store, syncing jobs from the schedules table, the job itself
(run_job) and the foreground scheduler with its lease. When each job fires is triggers.py's.

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
from datetime import UTC, datetime
from pathlib import Path
from threading import Event

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import DigestError
from digest.schedule.localtime import draft_trigger as local_draft_trigger
from digest.schedule.localtime import send_trigger as local_send_trigger
from digest.schedule.triggers import MISFIRE_GRACE, draft_trigger, send_trigger
from digest.store.schedules import Schedule, ScheduleError
from digest.zones import tzdata_version

log = logging.getLogger("digest.scheduler")

JOBSTORE_TABLE = "digest_apscheduler_jobs"
JOB_DEFAULTS = {
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
}


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
    return _Scheduler(jobstores={"default": store}, job_defaults=JOB_DEFAULTS, timezone=UTC)


def _job_ids(name: str) -> tuple[str, str]:
    return f"draft:{name}", f"send:{name}"


def sync_jobs(
    scheduler, schedules: list[Schedule], *, now: datetime | None = None, zones_of=None
) -> None:
    """Make the job store say what the schedules table says.

    A job whose schedule did not change is left alone, keeping its stored next run time: that is
    what lets a run missed while the scheduler was down still happen (within the grace time).
    ``zones_of(schedule)``: the zones a local-time schedule fires in (its readers' zones).
    """
    now = now or datetime.now(UTC)
    wanted = {}
    for s in schedules:
        draft_id, send_id = _job_ids(s.name)
        try:
            if s.local_time:
                zones = (zones_of(s) if zones_of else None) or [s.timezone]
                triggers = {
                    send_id: ("send", local_send_trigger(s, zones)),
                    draft_id: ("draft", local_draft_trigger(s, zones)),
                }
            else:
                zones = []
                triggers = {
                    send_id: ("send", send_trigger(s)),
                    draft_id: ("draft", draft_trigger(s)),
                }
        except ScheduleError as exc:
            log.error(
                "schedule %s is invalid, not scheduled: %s",
                s.name,
                exc,
                extra={"event": "sync", "list": s.list_name},
            )
            continue
        for job_id, (kind, trigger) in triggers.items():
            if trigger is None:
                continue
            # The job's name carries its spec: a change of cron, zone, pause or time zone data
            # (a tzdata upgrade may move the stored next run time) replaces the job.
            spec = (
                f"{kind} {s.name}: {s.cron} {s.timezone} draft={s.draft_at} "
                f"paused={s.paused} tzdata={tzdata_version()[1]}"
                + (f" local_time={','.join(zones)}" if s.local_time else "")
            )
            wanted[job_id] = spec
            current = scheduler.get_job(job_id)
            if current is not None and current.name == spec:
                continue
            scheduler.add_job(
                "digest.schedule:run_job",
                trigger=trigger,
                args=(kind, s.name),
                id=job_id,
                name=spec,
                replace_existing=True,
                **JOB_DEFAULTS,
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
    from digest.schedule.runs import run_draft, run_resume, run_send
    from digest.store.schedules import get_schedule

    rt = _Runtime
    if rt.config is None:
        raise DigestError("run_job called outside 'digest scheduler'")
    try:
        schedule = get_schedule(rt.db, name)
    except ScheduleError:
        log.warning(
            "schedule %s was removed; skipping its %s run", name, kind, extra={"event": kind}
        )
        return
    now = datetime.now(UTC)
    if kind == "draft":
        run_draft(rt.config, rt.db, schedule, now, out_dir=rt.out_dir)
    elif kind == "resume":
        run_resume(
            rt.config, rt.db, schedule, now, out_dir=rt.out_dir, signer=rt.signer, stop=rt.stop
        )
    else:
        run_send(
            rt.config, rt.db, schedule, now, out_dir=rt.out_dir, signer=rt.signer, stop=rt.stop
        )


class Runner:
    """``digest scheduler``: hold the lease, sync jobs, renew and resync until stopped."""

    def __init__(
        self, config, db, *, out_dir: Path, signer, stop: Event | None = None, poll: float = 15.0
    ):
        from digest.store.editions import new_owner

        self.config, self.db, self.out_dir, self.signer = config, db, out_dir, signer
        self.stop = stop or Event()
        self.poll = poll
        self.owner = new_owner()
        self.scheduler: BackgroundScheduler | None = None

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
        self.scheduler = scheduler = make_scheduler(self.db)
        scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        scheduler.start(paused=True)
        self._stamp = (changes_stamp(self.db), self._zones_stamp())
        schedules = list_schedules(self.db)
        sync_jobs(scheduler, schedules, zones_of=self.zones_of)
        for s in schedules:
            # A stop (SIGTERM on a deploy) left today's send half done: finish it now, once.
            if s.last_status == "interrupted" and not s.paused:
                scheduler.add_job(
                    "digest.schedule:run_job",
                    "date",
                    args=("resume", s.name),
                    id=f"resume:{s.name}",
                    name=f"resume {s.name}",
                    replace_existing=True,
                    **JOB_DEFAULTS,
                    run_date=datetime.now(UTC),
                )
        scheduler.resume()
        log.info(
            "scheduler started (%s), %d job(s)",
            self.owner,
            len(scheduler.get_jobs()),
            extra={"event": "start"},
        )

    def run(self) -> None:
        """Block until stop is set (SIGTERM) or the lease is lost, then shut down cleanly."""
        from digest.store.outage import Retry
        from digest.store.schedules import changes_stamp, list_schedules, renew_lease

        # An idle scheduler rides out a database outage (PostgreSQL restarting) for a bounded
        # time, with one line when it starts and one when it ends; past it, a sentence.
        retry = Retry(
            self.config.delivery.database_retry_seconds,
            then="the scheduler stops; start it again once the database is back",
            say=lambda text: log.warning(text, extra={"event": "database"}),
        )
        try:
            while not self.stop.wait(self.poll):
                if not retry(renew_lease, self.db, self.owner):
                    log.error(
                        "lost the scheduler lease to another process; stopping",
                        extra={"event": "lease"},
                    )
                    break
                stamp = (retry(changes_stamp, self.db), retry(self._zones_stamp))
                if stamp != self._stamp:
                    self._stamp = stamp
                    sync_jobs(
                        self.scheduler, retry(list_schedules, self.db), zones_of=self.zones_of
                    )
        finally:
            self.shutdown()

    def zones_of(self, s: Schedule) -> list[str]:
        from digest.schedule.localtime import firing_zones

        return firing_zones(self.config, self.db, s)

    def _zones_stamp(self) -> tuple:
        """Local-time schedules fire in their readers' zones: a reader in a new zone resyncs."""
        from digest.store.schedules import list_schedules

        return tuple(
            (s.name, tuple(self.zones_of(s))) for s in list_schedules(self.db) if s.local_time
        )

    def shutdown(self) -> None:
        from digest.store.schedules import release_lease

        self.stop.set()  # a send in flight finishes its batch and pauses, resumable
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        try:
            release_lease(self.db, self.owner)
        except SQLAlchemyError as exc:  # the database is down: the lease goes stale by itself
            log.warning(
                "could not release the scheduler lease (%s); it goes stale by itself",
                getattr(exc, "orig", None) or exc,
                extra={"event": "lease"},
            )
        _Runtime.config = None
        log.info("scheduler stopped", extra={"event": "stop"})

    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "%s missed its run at %s (more than %d min late): not run",
                event.job_id,
                event.scheduled_run_time,
                int(MISFIRE_GRACE.total_seconds() // 60),
                extra={"event": "missed"},
            )
        else:
            # run_send records the outcomes it knows; this is a bug or a database outage.
            log.error(
                "%s failed: %r\n%s",
                event.job_id,
                event.exception,
                event.traceback,
                extra={"event": "error"},
            )
