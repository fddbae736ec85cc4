"""Delivery deadlines through the real sendgrid library and the loopback SendGrid-like server:
a send whose rate cannot meet its deadline says so at the start, and health reports the miss."""

import dataclasses
import logging
import os
from datetime import UTC, datetime, timedelta

import pytest

from digest.config import load_config
from digest.delivery.loop import deliver
from digest.delivery.sendgrid import SendGridBackend
from digest.edition.build import edition_for_send
from digest.schedule.health import health
from digest.status import snapshot
from digest.store import ledger
from digest.store.readerzones import deadline_missed, recent_rate
from tests.conftest import SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.test_send_loop import SIGNER, FakeClock, subscribe
from tests.delivery.test_send_sendgrid import KEY, digest, env

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # the wall clock when the send starts


@pytest.fixture
def config(site):
    # 60 a minute: 120 readers need two minutes whatever the machine.
    site.write_text(site.read_text() + "\n[delivery]\nbatch_size = 10\nrate_per_minute = 60\n")
    return load_config(site, env={})


def send(config, db, server, *, day=0, deadline):
    stored, _ = edition_for_send(
        config,
        db,
        list_name="matinale",
        now=datetime.fromisoformat(SAMPLE_NOW) + timedelta(days=day),
    )
    clock = FakeClock()  # pacing waits advance it: the send "takes" what the rate says
    backend = SendGridBackend(
        dataclasses.replace(config.sendgrid, api_host=server.url, api_key=KEY, timeout=5.0)
    )
    return stored, deliver(
        config,
        db,
        stored,
        backend,
        signer=SIGNER,
        clock=clock,
        sleep=clock.sleep,
        deadline=deadline,
        wall=lambda: T0,
    )


def test_a_rate_that_cannot_meet_the_deadline_warns_at_the_start_and_health_reports_it(
    config, db, caplog
):
    subscribe(db, 120)
    with (
        SendGridServer(api_key=KEY, keep_bodies=False) as server,
        caplog.at_level(logging.WARNING, logger="digest.delivery"),
    ):
        stored, report = send(config, db, server, deadline=T0 + timedelta(seconds=45))
        assert sorted(server.delivered_addresses()) == [
            f"reader{i:03d}@example.com" for i in range(120)
        ]
    [warning] = report.warnings[:1]
    # 06:00 UTC is 06:00 in Casablanca in December 2026 (tzdata 2026f: UTC+0 outside Ramadan)
    assert "cannot meet its deadline 06:00 +00" in warning
    assert "120 messages at the configured limit of 60 messages a minute" in warning
    assert "end about 06:02 +00" in warning
    # The log line came at the start, before the first batch was handed over.
    assert any("cannot meet its deadline" in r.getMessage() for r in caplog.records)
    assert report.status == "sent" and ledger.counts(db, stored.id)["sent"] == 120

    missed = deadline_missed(db, stored.id)
    assert missed and "after its deadline 06:00 +00 (under a minute late)" in missed
    [verdict] = health(db, T0 + timedelta(hours=1))
    assert not verdict.ok and "after its deadline" in verdict.line
    [latest] = snapshot(db, T0)["lists"]
    assert latest["deadline_missed"] == missed
    # The rate this send measured (fake clock: 60 now, 60 a minute later) is kept.
    assert recent_rate(db, "matinale", "sendgrid", before="none") == pytest.approx(2.0)


def test_the_next_edition_estimates_from_the_rate_the_previous_one_measured(config, db):
    subscribe(db, 120)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        send(config, db, server, deadline=T0 + timedelta(hours=1))  # on time: no warning
        unlimited = dataclasses.replace(
            config, delivery=dataclasses.replace(config.delivery, rate_per_minute=None)
        )
        stored, report = send(unlimited, db, server, day=1, deadline=T0 + timedelta(seconds=30))
    assert stored.id == "matinale-2025-07-02"
    [warning] = report.warnings[:1]
    assert "at the 2 messages a second the previous edition measured" in warning
    assert deadline_missed(db, "matinale-2025-07-01") is None


def test_without_any_rate_it_says_it_cannot_tell(config, db):
    subscribe(db, 10)
    unlimited = dataclasses.replace(
        config, delivery=dataclasses.replace(config.delivery, rate_per_minute=None)
    )
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        _, report = send(unlimited, db, server, deadline=T0 + timedelta(minutes=5))
    assert report.warnings and "cannot tell whether the deadline" in report.warnings[0]


def test_cli_deadline_warns_and_health_fails(site, tmp_path):
    site.write_text(site.read_text() + "\n[delivery]\nrate_per_minute = 600\n")
    csv = tmp_path / "list.csv"
    csv.write_text("email,name\n" + "".join(f"r{i}@example.com,R {i}\n" for i in range(30)))
    digest(
        "subscribers",
        "import",
        str(csv),
        "--list",
        "matinale",
        cwd=tmp_path,
        environ=os.environ.copy(),
    )
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        bad = digest(
            "send",
            "--list",
            "matinale",
            "--backend",
            "sendgrid",
            "--deadline",
            "7h",
            cwd=tmp_path,
            environ=env(server),
            check=False,
        )
        assert bad.returncode == 2 and "--deadline '7h' is not a time of day" in bad.stderr
        assert "Traceback" not in bad.stderr and server.attempts == 0
        # --now pins the edition at 08:00 on its day: a 07:30 deadline cannot be met.
        proc = digest(
            "send",
            "--list",
            "matinale",
            "--backend",
            "sendgrid",
            "--now",
            SAMPLE_NOW,
            "--deadline",
            "07:30",
            "--out",
            str(tmp_path / "ed"),
            cwd=tmp_path,
            environ=env(server),
        )
        assert len(server.delivered_addresses()) == 30
    assert "cannot meet its deadline 07:30" in proc.stderr
    health = digest("health", cwd=tmp_path, environ=os.environ.copy(), check=False)
    assert health.returncode == 1, health.stdout
    line = " ".join(health.stdout.split())  # rich wraps long lines
    assert "FAIL matinale: matinale-2025-07-01 finished at 20" in line  # another day: dated
    assert "after its deadline 07:30 +01 (" in line and "days late)" in line
