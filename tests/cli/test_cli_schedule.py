"""The scheduling commands in real processes: schedules, approval, history, health, the one
scheduler per database, SIGTERM."""

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version

import pytest
import tzdata

from tests.cli.test_cli import digest
from tests.conftest import EXAMPLE_CSV, SAMPLE_NOW


def start_scheduler(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "scheduler", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in proc.stderr:  # blocks until the scheduler logs that it runs (or dies)
        lines.append(line)
        if "scheduler started" in line:
            return proc, lines
    proc.wait(timeout=10)
    pytest.fail("the scheduler did not start:\n" + "".join(lines))


def test_schedule_list_never_shows_a_local_time_that_does_not_exist(site, tmp_path):
    digest(
        "schedule",
        "add",
        "night",
        "--list",
        "matinale",
        "--cron",
        "30 2 * * *",
        "--tz",
        "Europe/Paris",
        cwd=tmp_path,
    )
    spring = digest("schedule", "list", "--now", "2026-03-28T12:00:00+01:00", cwd=tmp_path)
    # 02:30 does not exist on 2026-03-29 in Paris: the send is at the end of the gap.
    assert "next send  2026-03-29 03:00 CEST (01:00 UTC)" in spring.stdout
    assert "02:30" not in spring.stdout.replace('"30 2 * * *"', "")
    autumn = digest("schedule", "list", "--now", "2026-10-25T00:45:00+00:00", cwd=tmp_path)
    # Between the two 02:30s of fall-back day: today's ran at the first; next is tomorrow.
    assert "next send  2026-10-26 02:30 CET (01:30 UTC)" in autumn.stdout


@pytest.fixture
def with_readers(site, tmp_path):
    digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)


def test_schedule_add_list_pause_resume_remove(site, tmp_path):
    added = digest(
        "schedule",
        "add",
        "morning",
        "--list",
        "matinale",
        "--cron",
        "0 7 * * *",
        "--tz",
        "Europe/Paris",
        "--draft-at",
        "06:30",
        "--approval",
        "required",
        cwd=tmp_path,
    )
    assert "next send" in added.stdout and "UTC" in added.stdout
    listed = digest("schedule", "list", "--now", "2026-03-28T12:00:00+01:00", cwd=tmp_path)
    # Next send on the spring-forward day: 07:00 CEST is 05:00 UTC.
    assert "2026-03-29 07:00 CEST (05:00 UTC)" in listed.stdout
    assert "2026-03-29 06:30 CEST (04:30 UTC)" in listed.stdout
    dup = digest(
        "schedule",
        "add",
        "morning",
        "--list",
        "matinale",
        "--cron",
        "0 7 * * *",
        cwd=tmp_path,
        check=False,
    )
    assert dup.returncode == 1 and "already" in dup.stderr
    bad = digest(
        "schedule",
        "add",
        "x",
        "--list",
        "matinale",
        "--cron",
        "0 7,19 * * *",
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1 and "single numbers" in bad.stderr
    digest("schedule", "pause", "morning", cwd=tmp_path)
    assert "PAUSED" in digest("schedule", "list", cwd=tmp_path).stdout
    digest("schedule", "resume", "morning", cwd=tmp_path)
    digest("schedule", "remove", "morning", cwd=tmp_path)
    gone = digest("schedule", "remove", "morning", cwd=tmp_path, check=False)
    assert gone.returncode == 1 and "no schedule named 'morning'" in gone.stderr


def test_approval_required_then_approve_then_run_history_and_health(site, tmp_path, with_readers):
    digest(
        "schedule",
        "add",
        "morning",
        "--list",
        "matinale",
        "--cron",
        "0 8 * * *",
        "--approval",
        "required",
        cwd=tmp_path,
    )
    out = tmp_path / "outbox"
    held = digest(
        "schedule",
        "run",
        "morning",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(out),
        cwd=tmp_path,
        check=False,
    )
    assert held.returncode == 1 and "not-approved" in held.stdout
    assert not list(out.glob("*.eml"))
    sick = digest("health", "--now", "2025-07-01T09:00:00+01:00", cwd=tmp_path, check=False)
    assert sick.returncode == 1
    assert sick.stdout.startswith("FAIL matinale:") and "approval" in sick.stdout

    approved = digest("approve", "matinale-2025-07-01", "--by", "Nadia", cwd=tmp_path)
    assert "approved by Nadia" in approved.stdout
    sent = digest(
        "schedule",
        "run",
        "morning",
        "--now",
        "2025-07-01T08:20:00+01:00",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert "sent 10" in sent.stdout and len(list(out.glob("*.eml"))) == 10
    well = digest(
        "health", "--list", "matinale", "--now", "2025-07-01T09:00:00+01:00", cwd=tmp_path
    )
    assert well.stdout.startswith("OK matinale:")
    history = digest("editions", "--list", "matinale", cwd=tmp_path)
    assert "matinale-2025-07-01" in history.stdout and "sent" in history.stdout


def test_a_second_scheduler_on_the_same_database_is_refused_and_sigterm_stops_cleanly(
    site, tmp_path
):
    digest("schedule", "add", "morning", "--list", "matinale", "--cron", "0 7 * * *", cwd=tmp_path)
    first, lines = start_scheduler(tmp_path, "--log-format", "json")
    try:
        second = digest("scheduler", cwd=tmp_path, check=False)
        assert second.returncode == 1
        assert "another scheduler is running on this database" in second.stderr
        assert str(first.pid) in second.stderr  # the holder, so the operator can find it
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    events = [
        json.loads(line)
        for line in [*lines, *err.splitlines(keepends=True)]
        if line.startswith("{")
    ]
    assert {"start", "stop", "sync"} <= {e["event"] for e in events}
    assert all({"ts", "level", "event"} <= e.keys() for e in events)
    # The lease went with it: a new scheduler starts at once.
    again, _ = start_scheduler(tmp_path)
    again.send_signal(signal.SIGTERM)
    again.communicate(timeout=30)
    assert again.returncode == 0


def test_the_job_added_from_the_cli_is_in_the_database_after_a_scheduler_restart(site, tmp_path):
    from digest.config import load_config
    from digest.schedule.triggers import send_trigger
    from digest.store.db import open_database
    from digest.store.schedules import get_schedule

    digest(
        "schedule",
        "add",
        "morning",
        "--list",
        "matinale",
        "--cron",
        "0 7 * * *",
        "--tz",
        "Africa/Casablanca",
        cwd=tmp_path,
    )
    for _ in range(2):  # a restart: the second scheduler finds the job the first one stored
        proc, lines = start_scheduler(tmp_path)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    config = load_config(site, env={})
    db = open_database(config.database_url)
    from digest.schedule.scheduler import make_scheduler

    scheduler = make_scheduler(db)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("send:morning")
        expected = send_trigger(get_schedule(db, "morning")).get_next_fire_time(
            None, datetime.now(UTC)
        )
        assert job.next_run_time == expected
        assert (job.next_run_time.hour, job.next_run_time.minute) == (7, 0)
    finally:
        scheduler.shutdown()
        db.close()


def test_health_json_has_the_same_verdicts_and_exit_codes(site, tmp_path, with_readers):
    none = digest("health", "--json", "--list", "matinale", cwd=tmp_path, check=False)
    assert none.returncode == 1 and json.loads(none.stdout)["ok"] is False
    assert json.loads(digest("health", "--json", cwd=tmp_path).stdout)["schedules"] == []

    digest(
        "schedule",
        "add",
        "morning",
        "--list",
        "matinale",
        "--cron",
        "0 8 * * *",
        "--approval",
        "required",
        cwd=tmp_path,
    )
    digest(
        "schedule",
        "run",
        "morning",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
        check=False,
    )
    at = ("--now", "2025-07-01T09:00:00+01:00")
    lines = digest("health", *at, cwd=tmp_path, check=False)
    sick = digest("health", "--json", *at, cwd=tmp_path, check=False)
    assert sick.returncode == lines.returncode == 1
    report = json.loads(sick.stdout)
    assert report["ok"] is False and report["database"] == "ok"
    assert report["schema_current"] is True
    [verdict] = report["schedules"]
    assert verdict["list"] == "matinale" and verdict["ok"] is False
    text, tz_line = lines.stdout.rsplit("time zones:", 1)
    assert " ".join(text.split()) == f"FAIL matinale: {verdict['line']}"  # rich wraps
    assert report["tzdata"] == {"package": version("tzdata"), "iana": tzdata.IANA_VERSION}
    assert tz_line.strip() == f"tzdata {version('tzdata')} (IANA {tzdata.IANA_VERSION})"
    [latest] = report["latest_editions"]
    assert latest == {
        **latest,
        "edition": "matinale-2025-07-01",
        "status": "ready, not approved",
        "sources_failed": 0,
    }
    assert report["scheduler"] is None

    digest("approve", "matinale-2025-07-01", cwd=tmp_path)
    digest(
        "schedule",
        "run",
        "morning",
        "--now",
        "2025-07-01T08:20:00+01:00",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    well = digest("health", "--json", "--list", "matinale", *at, cwd=tmp_path)
    report = json.loads(well.stdout)
    assert report["ok"] is True and report["schedules"][0]["ok"] is True
    assert report["latest_editions"][0]["status"] == "sent"


def test_health_json_when_the_database_cannot_be_opened(site, tmp_path):
    env = {"DIGEST_DATABASE_URL": "postgresql+psycopg://digest:hunter2@127.0.0.1:1/digest"}
    lines = digest("health", cwd=tmp_path, check=False, env_extra=env)
    report = digest("health", "--json", cwd=tmp_path, check=False, env_extra=env)
    assert lines.returncode == report.returncode == 1
    body = json.loads(report.stdout)
    assert body["ok"] is False and body["database"] == "unavailable"
    assert "cannot open the database" in body["error"] and "hunter2" not in report.stdout


def test_schedule_add_local_time_with_a_deadline(site, tmp_path):
    digest(
        "schedule",
        "add",
        "local",
        "--list",
        "matinale",
        "--cron",
        "0 7 * * *",
        "--local-time",
        "--deadline",
        "07:30",
        cwd=tmp_path,
    )
    listed = " ".join(digest("schedule", "list", cwd=tmp_path).stdout.split())  # rich wraps
    assert "in each reader's local time, deadline 07:30" in listed
    early = digest(
        "schedule",
        "add",
        "x",
        "--list",
        "matinale",
        "--cron",
        "0 7 * * *",
        "--deadline",
        "06:45",
        cwd=tmp_path,
        check=False,
    )
    assert early.returncode == 1 and "must come after the send time" in early.stderr
    bad = digest(
        "schedule",
        "add",
        "y",
        "--list",
        "matinale",
        "--cron",
        "0 7 * * *",
        "--deadline",
        "half past",
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1 and "not a time of day" in bad.stderr
    assert "Traceback" not in early.stderr + bad.stderr
