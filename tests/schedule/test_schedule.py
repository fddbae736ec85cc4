"""APScheduler wiring on a fake clock: fire times across DST and Ramadan, the job store in a real
SQLite file across a restart, the lease. Nothing here sleeps."""

import pickle
import shutil
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest
import tzdata
from apscheduler.triggers.cron import CronTrigger

from digest.schedule.scheduler import JOB_DEFAULTS, make_scheduler, sync_jobs
from digest.schedule.triggers import (
    MISFIRE_GRACE,
    DailyCronTrigger,
    last_due,
    next_times,
    parse_cron,
    send_trigger,
    validate,
)
from digest.store.db import open_database
from digest.store.schedules import (
    Schedule,
    ScheduleError,
    SchedulerBusy,
    acquire_lease,
    add_schedule,
    list_schedules,
    release_lease,
    renew_lease,
    set_paused,
)
from digest.zones import UnknownZone, is_zone, zone

# The zones the code uses: the tzdata package's (digest.zones), never the system's database.
PARIS, CASA = zone("Europe/Paris"), zone("Africa/Casablanca")


def fires(trigger, start, days):
    """Every fire time from ``start`` for ``days`` days, asking the trigger as APScheduler does."""
    out, prev, now = [], None, start
    end = start + timedelta(days=days)
    while True:
        nxt = trigger.get_next_fire_time(prev, now)
        if nxt > end:
            return out
        out.append(nxt)
        prev, now = nxt, nxt.astimezone(UTC)


def local_days(times, tz):
    return [t.astimezone(tz).date() for t in times]


def test_tzdata_has_the_2026_changes_the_tests_rely_on():
    assert datetime(2026, 2, 14, 12, tzinfo=CASA).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 2, 16, 12, tzinfo=CASA).utcoffset() == timedelta(0)
    assert datetime(2026, 3, 21, 12, tzinfo=CASA).utcoffset() == timedelta(0)
    assert datetime(2026, 3, 23, 12, tzinfo=CASA).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 3, 28, 12, tzinfo=PARIS).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 3, 30, 12, tzinfo=PARIS).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 24, 12, tzinfo=PARIS).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 26, 12, tzinfo=PARIS).utcoffset() == timedelta(hours=1)


CHANGES = [  # (zone, a day before the change)
    (PARIS, date(2026, 3, 27)),
    (PARIS, date(2026, 10, 23)),
    (CASA, date(2026, 2, 13)),
    (CASA, date(2026, 3, 20)),
]


@pytest.mark.parametrize("tz,before", CHANGES, ids=lambda v: str(v))
@pytest.mark.parametrize("hour,minute", [(7, 0), (2, 30)])
def test_one_fire_per_local_day_across_the_change(tz, before, hour, minute):
    trigger = DailyCronTrigger(hour=hour, minute=minute, timezone=tz)
    start = datetime(before.year, before.month, before.day, 12, tzinfo=tz)
    times = fires(trigger, start, days=5)
    days = local_days(times, tz)
    # No day skipped, none twice: five consecutive local dates.
    assert days == [before + timedelta(days=i) for i in range(1, 6)]
    # 23 to 25 h between two sends (an hour lost or gained, never a day; 23.5 and 24.5 h
    # around a 02:30 that falls in a gap and fires at its end, 03:00).
    gaps = {b - a for a, b in zip(times, times[1:], strict=False)}
    assert all(timedelta(hours=23) <= g <= timedelta(hours=25) for g in gaps), gaps


def test_plain_crontrigger_fires_twice_when_clocks_go_back_which_is_why_we_wrap_it():
    plain = CronTrigger(hour=2, minute=30, timezone=PARIS)
    times = fires(plain, datetime(2026, 10, 24, 12, tzinfo=PARIS), days=2)
    assert local_days(times, PARIS).count(date(2026, 10, 25)) == 2


def test_the_exact_instants_around_the_changes():
    at = {}
    for tz, before in CHANGES:
        trigger = DailyCronTrigger(hour=2, minute=30, timezone=tz)
        for t in fires(trigger, datetime(before.year, before.month, before.day, 12, tzinfo=tz), 3):
            at[(tz.key, t.astimezone(tz).date())] = t.astimezone(UTC)
    # Paris spring forward: 02:30 does not exist; it fires at the first instant after the gap,
    # 03:00 CEST = 01:00 UTC (plain CronTrigger: 03:30).
    assert at[("Europe/Paris", date(2026, 3, 29))] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # Paris fall back: 02:30 happens twice; only the first (CEST, 00:30 UTC) fires.
    assert at[("Europe/Paris", date(2026, 10, 25))] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # Casablanca into Ramadan time (03:00 -> 02:00): first 02:30, at UTC+1.
    assert at[("Africa/Casablanca", date(2026, 2, 15))] == datetime(2026, 2, 15, 1, 30, tzinfo=UTC)
    # Casablanca back to UTC+1 (02:00 -> 03:00): 02:30 does not exist; fires at 03:00 local,
    # 02:00 UTC.
    assert at[("Africa/Casablanca", date(2026, 3, 22))] == datetime(2026, 3, 22, 2, 0, tzinfo=UTC)


@pytest.fixture
def system_tzpath(tmp_path):
    """A "system" time zone database whose Africa/Casablanca is plain UTC+1 (what the system's
    2025b says for Morocco from 2026 on), put first on zoneinfo's search path."""
    fake = tmp_path / "zoneinfo"
    (fake / "Africa").mkdir(parents=True)
    with resources.as_file(resources.files("tzdata.zoneinfo") / "Etc" / "GMT-1") as gmt1:
        shutil.copy(gmt1, fake / "Africa" / "Casablanca")
    zoneinfo.reset_tzpath(to=[str(fake)])
    ZoneInfo.clear_cache()
    yield fake
    zoneinfo.reset_tzpath()
    ZoneInfo.clear_cache()


def test_casablanca_comes_from_the_tzdata_package_not_the_system_database(system_tzpath):
    assert tzdata.IANA_VERSION >= "2026f"  # the package's rules these answers are from
    # 2026-12-02: outside Ramadan, Morocco is on UTC+0 from 2026 on in the package's data;
    # the system's 2025b (here the fake one) still says UTC+1, i.e. 06:00 UTC.
    assert ZoneInfo("Africa/Casablanca").utcoffset(datetime(2026, 12, 2)) == timedelta(hours=1)
    s = Schedule(name="m", list_name="matinale", cron="0 7 * * *", timezone="Africa/Casablanca")
    fire = send_trigger(s).get_next_fire_time(None, datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    assert fire.astimezone(zone("Africa/Casablanca")).hour == 7
    # What the package's own file says, read without zoneinfo's search path.
    with (resources.files("tzdata.zoneinfo") / "Africa" / "Casablanca").open("rb") as f:
        package = ZoneInfo.from_file(f)
    assert fire == datetime(2026, 12, 2, 7, tzinfo=package)


def test_zone_names_are_checked_strictly_and_loaded_once():
    assert zone("Europe/Paris") is zone("Europe/Paris") and zone("UTC").key == "UTC"
    for bad in (
        "../etc/passwd",
        "Europe/../Europe/Paris",
        "/Europe/Paris",
        "europe/paris",
        "Europe\\Paris",
        "Europe/Paris/",
        "",
        "Mars/Olympus",
        "zones",
        "tzdata.zi",
    ):
        assert not is_zone(bad)
        with pytest.raises(UnknownZone, match="unknown time zone"):
            zone(bad)


def test_fall_back_a_job_computed_between_the_two_half_past_twos_waits_for_tomorrow():
    trigger = DailyCronTrigger(hour=2, minute=30, timezone=PARIS)
    # 2026-10-25: 02:30 CEST = 00:30 UTC, then 02:30 CET = 01:30 UTC. A job (re)computed at
    # 00:45 UTC, after the first: plain CronTrigger picks the second; ours fires the next day.
    between = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)
    assert CronTrigger(hour=2, minute=30, timezone=PARIS).get_next_fire_time(
        None, between
    ).astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    nxt = trigger.get_next_fire_time(None, between)
    assert nxt.astimezone(UTC) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)
    before = datetime(2026, 10, 25, 0, 15, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, before)
    assert first.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_spring_forward_fire_time_is_a_local_time_that_exists():
    trigger = DailyCronTrigger(hour=2, minute=30, timezone=PARIS)
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 28, 12, tzinfo=UTC))
    # The wall time carried is the real one (03:00 CEST), not the non-existent 02:30.
    assert (fire.hour, fire.minute, fire.utcoffset()) == (3, 0, timedelta(hours=2))
    assert fire.astimezone(UTC).astimezone(PARIS) == fire
    plain_fire = CronTrigger(hour=2, minute=30, timezone=PARIS).get_next_fire_time(
        None, datetime(2026, 3, 28, 12, tzinfo=UTC)
    )
    assert plain_fire.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30
    draft, send = next_times(
        Schedule(
            name="n", list_name="l", cron="0 3 * * *", timezone="Europe/Paris", draft_at="02:30"
        ),
        datetime(2026, 3, 28, 12, tzinfo=UTC),
    )
    assert (draft.isoformat(), send.isoformat()) == (
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:00:00+02:00",
    )


def test_triggers_pickle_by_zone_name_and_old_jobs_get_the_package_zone():
    trigger = DailyCronTrigger(hour=7, minute=0, timezone=CASA)
    assert pickle.loads(pickle.dumps(trigger)).timezone is CASA
    # A job stored before this change carries a ZoneInfo of the system database.
    old = CronTrigger.__getstate__(trigger) | {"timezone": ZoneInfo("Africa/Casablanca")}
    revived = DailyCronTrigger.__new__(DailyCronTrigger)
    revived.__setstate__(old)
    assert revived.timezone is CASA


def test_seven_oclock_moves_in_utc_with_the_zone_and_stays_seven_locally():
    s = Schedule(name="m", list_name="matinale", cron="0 7 * * *", timezone="Africa/Casablanca")
    t = send_trigger(s)
    for day, utc_hour in ((14, 6), (15, 7), (16, 7)):
        fire = t.get_next_fire_time(None, datetime(2026, 2, day - 1, 12, tzinfo=CASA))
        assert (fire.astimezone(CASA).hour, fire.astimezone(UTC).hour) == (7, utc_hour)


def test_cron_uses_crontab_weekday_numbers_and_refuses_what_would_send_twice_a_day():
    assert parse_cron("0 7 * * 1-5")["day_of_week"] == "mon-fri"
    assert parse_cron("0 7 * * 0")["day_of_week"] == "sun"
    weekdays = DailyCronTrigger(**parse_cron("0 7 * * 1-5"), timezone=PARIS)
    friday = datetime(2026, 5, 29, 12, tzinfo=PARIS)
    assert weekdays.get_next_fire_time(None, friday).date() == date(2026, 6, 1)  # Monday
    for bad in ("0 7 * *", "0 7,19 * * *", "*/5 * * * *", "0 25 * * *"):
        with pytest.raises(ScheduleError):
            parse_cron(bad)
    with pytest.raises(ScheduleError, match="before the send time"):
        validate(
            Schedule(name="x", list_name="l", cron="0 7 * * *", timezone="UTC", draft_at="07:30")
        )
    with pytest.raises(ScheduleError, match="time zone"):
        validate(Schedule(name="x", list_name="l", cron="0 7 * * *", timezone="Mars/Olympus"))


def test_next_times_give_the_draft_of_the_next_send():
    s = Schedule(
        name="m", list_name="l", cron="0 7 * * *", timezone="Europe/Paris", draft_at="06:30"
    )
    draft, send = next_times(s, datetime(2026, 3, 28, 6, 45, tzinfo=PARIS))
    assert (draft.isoformat(), send.isoformat()) == (
        "2026-03-28T06:30:00+01:00",
        "2026-03-28T07:00:00+01:00",
    )
    draft, send = next_times(s, datetime(2026, 3, 28, 8, tzinfo=PARIS))
    assert (draft.isoformat(), send.isoformat()) == (
        "2026-03-29T06:30:00+02:00",
        "2026-03-29T07:00:00+02:00",
    )
    assert (
        last_due(s, datetime(2026, 3, 29, 6, 59, tzinfo=PARIS)).isoformat()
        == "2026-03-28T07:00:00+01:00"
    )


@pytest.fixture
def dbfile(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'state' / 'digest.db'}")
    yield db
    db.close()


def started(db):
    scheduler = make_scheduler(db)
    scheduler.start(paused=True)  # paused: the job store is live, nothing runs on the real clock
    return scheduler


def test_jobs_survive_a_restart_with_their_next_run_time(dbfile):
    add_schedule(
        dbfile,
        Schedule(
            name="matin",
            list_name="matinale",
            cron="0 7 * * *",
            timezone="Europe/Paris",
            draft_at="06:30",
        ),
    )
    fake_now = datetime(2026, 3, 28, 12, tzinfo=PARIS)
    first = started(dbfile)
    sync_jobs(first, list_schedules(dbfile), now=fake_now)
    first.shutdown()

    again = started(dbfile)
    try:
        # The restarted scheduler reads the jobs from the file, before any sync.
        send = again.get_job("send:matin")
        assert send.next_run_time == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)  # 07:00 CEST
        assert again.get_job("draft:matin").next_run_time == datetime(
            2026, 3, 29, 4, 30, tzinfo=UTC
        )
        assert (send.misfire_grace_time, send.coalesce, send.max_instances) == (
            JOB_DEFAULTS["misfire_grace_time"],
            True,
            1,
        )
        assert send.misfire_grace_time == MISFIRE_GRACE.total_seconds() == 1800
        assert send.func_ref == "digest.schedule:run_job" and send.args == ("send", "matin")
        # A sync later (the real clock, long after) keeps the stored time: a run missed while
        # the scheduler was down is APScheduler's to run (within grace) or report as missed.
        sync_jobs(again, list_schedules(dbfile))
        assert again.get_job("send:matin").next_run_time == send.next_run_time
    finally:
        again.shutdown()


def test_a_stored_casablanca_job_keeps_the_package_zone_and_names_its_tzdata(dbfile, system_tzpath):
    add_schedule(
        dbfile,
        Schedule(
            name="matin", list_name="matinale", cron="0 7 * * *", timezone="Africa/Casablanca"
        ),
    )
    first = started(dbfile)
    sync_jobs(first, list_schedules(dbfile), now=datetime(2026, 12, 1, 12, tzinfo=UTC))
    first.shutdown()
    again = started(dbfile)
    try:
        job = again.get_job("send:matin")
        # 07:00 in Casablanca on 2026-12-02 is 07:00 UTC in tzdata 2026f (the "system" says 06:00).
        assert job.next_run_time == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
        assert job.trigger.timezone is CASA
        assert f"tzdata={tzdata.IANA_VERSION}" in job.name  # an upgrade recomputes the job
    finally:
        again.shutdown()


def test_changes_pause_and_removal_reach_the_job_store(dbfile):
    s = Schedule(name="matin", list_name="matinale", cron="0 7 * * *", timezone="Europe/Paris")
    add_schedule(dbfile, s)
    scheduler = started(dbfile)
    try:
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        sync_jobs(scheduler, list_schedules(dbfile), now=now)
        assert [j.id for j in scheduler.get_jobs()] == ["send:matin"]
        add_schedule(
            dbfile,
            Schedule(
                name="matin", list_name="matinale", cron="30 6 * * *", timezone="Africa/Casablanca"
            ),
            replace=True,
        )
        sync_jobs(scheduler, list_schedules(dbfile), now=now)
        assert scheduler.get_job("send:matin").next_run_time == datetime(
            2026, 6, 2, 5, 30, tzinfo=UTC
        )
        set_paused(dbfile, "matin", True)
        sync_jobs(scheduler, list_schedules(dbfile), now=now)
        assert scheduler.get_job("send:matin").next_run_time is None
        from digest.store.schedules import remove_schedule

        remove_schedule(dbfile, "matin")
        sync_jobs(scheduler, list_schedules(dbfile), now=now)
        assert scheduler.get_jobs() == []
    finally:
        scheduler.shutdown()


def test_the_lease_admits_one_scheduler_per_database(dbfile):
    import os
    import socket

    acquire_lease(dbfile, f"{socket.gethostname()}:{os.getpid()}:aaaa")
    with pytest.raises(SchedulerBusy, match="another scheduler is running"):
        acquire_lease(dbfile, f"{socket.gethostname()}:{os.getpid()}:bbbb")
    assert not renew_lease(dbfile, "someone-else")
    release_lease(dbfile, f"{socket.gethostname()}:{os.getpid()}:aaaa")
    acquire_lease(dbfile, "other-host:1:cccc")
    # A holder on another host that stopped renewing is taken over once the lease is stale.
    later = datetime.now(UTC) + timedelta(minutes=2)
    acquire_lease(dbfile, f"{socket.gethostname()}:{os.getpid()}:dddd", now=later)


def test_a_dead_holder_on_this_host_is_taken_over_at_once(dbfile):
    import socket

    acquire_lease(dbfile, f"{socket.gethostname()}:999999999:dead")  # no such pid
    acquire_lease(dbfile, f"{socket.gethostname()}:1:live")


def test_after_a_restart_a_run_missed_within_the_grace_runs_once_and_an_older_one_does_not(
    config, db, tmp_path, caplog
):
    """The scheduler was down at the send time: 5 minutes late it still sends (once), 2 hours
    late it does not (and says so). Real scheduler, real SQLite file, no fixed sleeps."""
    import logging
    import threading
    import time

    from digest.schedule.scheduler import Runner
    from digest.store.schedules import get_schedule
    from digest.tokens import TokenSigner
    from tests.delivery.test_send import subscribe

    subscribe(db, [("amina@example.com", "Amina"), ("omar@example.org", "Omar")])
    for name in ("recent", "stale"):
        add_schedule(
            db,
            Schedule(
                name=name, list_name="matinale", cron="0 8 * * *", timezone="Africa/Casablanca"
            ),
        )
    before = started(db)
    sync_jobs(before, list_schedules(db))
    real_now = datetime.now(UTC)
    before.modify_job("send:recent", next_run_time=real_now - timedelta(minutes=5))
    before.modify_job("send:stale", next_run_time=real_now - timedelta(hours=2))
    before.shutdown()

    out = tmp_path / "outbox"
    runner = Runner(config, db, out_dir=out, signer=TokenSigner("k" * 40), poll=0.05)
    with caplog.at_level(logging.INFO, logger="digest.scheduler"):
        runner.start()
        thread = threading.Thread(target=runner.run)
        thread.start()
        deadline = time.monotonic() + 60
        while get_schedule(db, "recent").last_status is None and time.monotonic() < deadline:
            runner.stop.wait(0.05)
        runner.stop.set()
        thread.join(timeout=60)
    recent, stale = get_schedule(db, "recent"), get_schedule(db, "stale")
    assert recent.last_status == "sent", recent.last_reason
    assert len(list(out.glob("*.eml"))) == 2
    assert stale.last_status is None
    assert any("send:stale missed its run" in r.getMessage() for r in caplog.records)
    # The lease was released: another scheduler may start.
    acquire_lease(db, "next-host:1:x")


def test_a_scheduler_started_after_a_sigterm_mid_send_finishes_that_send(config, db, tmp_path):
    import threading
    import time
    from threading import Event

    from digest.schedule.runs import run_send
    from digest.schedule.scheduler import Runner
    from digest.store.editions import get_edition
    from digest.tokens import TokenSigner
    from tests.delivery.test_send import subscribe
    from tests.schedule.test_scheduled import StopAfterFirstBatch

    subscribe(
        db,
        [
            ("amina@example.com", "Amina"),
            ("omar@example.org", "Omar"),
            ("sara@example.net", "Sara"),
        ],
    )
    add_schedule(
        db,
        Schedule(
            name="morning", list_name="matinale", cron="0 8 * * *", timezone="Africa/Casablanca"
        ),
    )
    out, signer, stop = tmp_path / "outbox", TokenSigner("k" * 40), Event()
    [s] = list_schedules(db)
    cut = run_send(
        config,
        db,
        s,
        datetime.now(UTC),
        out_dir=out,
        signer=signer,
        stop=stop,
        backend=StopAfterFirstBatch(out, stop),
    )
    assert cut.status == "interrupted" and len(list(out.glob("*.eml"))) == 1

    runner = Runner(config, db, out_dir=out, signer=signer, poll=0.05)
    runner.start()
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while get_edition(db, cut.edition_id).status != "sent" and time.monotonic() < deadline:
            runner.stop.wait(0.05)
    finally:
        runner.stop.set()
        thread.join(timeout=60)
    assert get_edition(db, cut.edition_id).status == "sent"
    assert len(list(out.glob("*.eml"))) == 3


def test_json_log_lines_carry_the_structured_fields():
    import io
    import json
    import logging

    from digest.logs import setup_logging

    stream = io.StringIO()
    handler = setup_logging("json", stream)
    try:
        logging.getLogger("digest.scheduler").info(
            "sent %s",
            "matinale-2026-03-29",
            extra={
                "event": "send",
                "list": "matinale",
                "edition": "matinale-2026-03-29",
                "counts": {"sent": 3, "failed": 0, "unknown": 0},
            },
        )
    finally:
        for name in ("digest", "apscheduler"):
            logging.getLogger(name).removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["level"] == "info" and line["event"] == "send" and line["list"] == "matinale"
    assert line["edition"] == "matinale-2026-03-29" and line["counts"]["sent"] == 3
    assert datetime.fromisoformat(line["ts"]).tzinfo is not None
    assert line["message"] == "sent matinale-2026-03-29"
