"""Whole scheduled editions into the outbox, on a real SQLite file, with fixed clocks."""

import logging
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from digest.schedule.health import health
from digest.schedule.runs import run_draft, run_send
from digest.store.editions import approve_edition, get_edition
from digest.store.schedules import Schedule, add_schedule, get_schedule
from digest.tokens import TokenSigner
from tests.conftest import SAMPLE_NOW
from tests.delivery.test_send import subscribe

SIGNER = TokenSigner("k" * 40)
DAY1 = datetime.fromisoformat(SAMPLE_NOW)  # 2025-07-01 08:00 Casablanca (UTC+1)


@pytest.fixture
def readers(db):
    subscribe(
        db,
        [
            ("amina@example.com", "Amina"),
            ("omar@example.org", "Omar"),
            ("sara@example.net", "Sara"),
        ],
    )


def make(db, **kw):
    s = Schedule(
        **{
            "name": "morning",
            "list_name": "matinale",
            "cron": "0 8 * * *",
            "timezone": "Africa/Casablanca",
            **kw,
        }
    )
    add_schedule(db, s, replace=True)
    return get_schedule(db, s.name)


def send(config, db, schedule, now, out):
    return run_send(config, db, schedule, now, out_dir=out, signer=SIGNER)


def emls(out):
    return sorted(p.name for p in out.glob("*.eml")) if out.exists() else []


def test_approval_required_holds_the_draft_until_an_editor_approves(
    config, db, readers, tmp_path, caplog
):
    s = make(db, approval="required", draft_at="07:30")
    out = tmp_path / "out"
    drafted = run_draft(config, db, s, DAY1 - timedelta(minutes=30))
    assert drafted.status == "drafted" and drafted.edition_id == "matinale-2025-07-01"
    assert get_edition(db, drafted.edition_id).needs_approval

    with caplog.at_level(logging.WARNING, logger="digest.scheduler"):
        held = send(config, db, s, DAY1, out)
    assert held.status == "not-approved" and emls(out) == []
    assert any(
        "approval" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )
    stored = get_edition(db, held.edition_id)
    assert stored.status == "ready" and "approval" in stored.reason
    [verdict] = health(db, DAY1 + timedelta(minutes=1))
    assert not verdict.ok and "approval" in verdict.line

    approve_edition(db, held.edition_id, by="editor")
    late = send(config, db, get_schedule(db, "morning"), DAY1 + timedelta(minutes=20), out)
    assert late.status == "sent" and late.counts["sent"] == 3 and len(emls(out)) == 3
    [verdict] = health(db, DAY1 + timedelta(hours=1))
    assert verdict.ok, verdict.line


def test_approval_auto_sends_at_the_send_time_and_a_second_firing_sends_nothing(
    config, db, readers, tmp_path
):
    s = make(db)
    out = tmp_path / "out"
    first = send(config, db, s, DAY1, out)
    assert first.status == "sent" and first.counts["sent"] == 3
    assert not get_edition(db, first.edition_id).needs_approval
    again = send(config, db, s, DAY1 + timedelta(hours=1), out)
    assert again.status == "done" and len(emls(out)) == 3
    assert get_schedule(db, "morning").last_status == "done"


def test_same_local_day_across_the_ramadan_fall_back_is_one_edition(config, db, readers, tmp_path):
    # 2026-02-15 in Casablanca: 03:00 (UTC+1) becomes 02:00 (UTC+0), so 02:30 happens twice.
    s = make(db, cron="30 2 * * *")
    out = tmp_path / "out"
    first = datetime.fromisoformat("2026-02-15T02:30:00+01:00")
    second = datetime.fromisoformat("2026-02-15T02:30:00+00:00")
    assert second - first == timedelta(hours=1)
    assert send(config, db, s, first, out).status == "sent"
    assert send(config, db, s, second, out).status == "done"
    assert len(emls(out)) == 3
    assert {p.name.split(".")[0] for p in out.glob("*.eml")} == {"matinale-2026-02-15"}


def test_a_second_day_with_the_same_stories_is_skipped_with_the_reason(
    config, db, readers, tmp_path
):
    s = make(db)
    out = tmp_path / "out"
    assert send(config, db, s, DAY1, out).status == "sent"
    # Same homepage the next morning: the ticker times now read as that day's, same titles.
    day2 = send(config, db, s, DAY1 + timedelta(days=1), out)
    assert day2.status == "skipped" and day2.reason.startswith("nothing new")
    assert day2.counts == {"stories": 10, "new": 0}
    stored = get_edition(db, "matinale-2025-07-02")
    assert stored.status == "skipped" and stored.reason == day2.reason
    assert len(emls(out)) == 3  # day 1 only
    [verdict] = health(db, DAY1 + timedelta(days=1, hours=1))
    assert verdict.ok and "skipped" in verdict.line


def test_an_unsent_edition_does_not_make_the_next_days_stories_old(config, db, readers, tmp_path):
    held = make(db, approval="required")
    out = tmp_path / "out"
    assert send(config, db, held, DAY1, out).status == "not-approved"
    auto = make(db)  # nobody approved day 1; the operator switches to auto
    day2 = send(config, db, auto, DAY1 + timedelta(days=1), out)
    assert day2.status == "sent", day2.reason
    assert get_edition(db, "matinale-2025-07-01").status == "ready"  # never sent, stays so


def test_if_nothing_new_send_repeats_on_purpose(config, db, readers, tmp_path):
    s = make(db, if_nothing_new="send")
    out = tmp_path / "out"
    send(config, db, s, DAY1, out)
    assert send(config, db, s, DAY1 + timedelta(days=1), out).status == "sent"
    assert len(emls(out)) == 6


def test_min_stories_skips_a_thin_day(config, db, readers, tmp_path):
    s = make(db, min_stories=11)  # the sample page gives 10 stories
    out = tmp_path / "out"
    result = send(config, db, s, DAY1, out)
    assert result.status == "skipped" and "minimum is 11" in result.reason
    assert emls(out) == []
    ok = make(db, name="enough", min_stories=10)
    # The day's edition is stored as skipped: a second schedule of the list does not resend it.
    assert send(config, db, ok, DAY1, out).status == "done"


def test_min_stories_counts_new_stories_only(config, db, readers, tmp_path):
    out = tmp_path / "out"
    send(config, db, make(db), DAY1, out)
    # Two days later, the 24-hour window holds the same titles: 0 new, whatever min_stories says.
    result = send(config, db, make(db, min_stories=0), DAY1 + timedelta(days=2), out)
    assert result.status == "skipped" and result.reason.startswith("nothing new")


def test_a_build_that_fails_is_recorded_and_health_fails(config, db, readers, tmp_path):
    s = make(db)
    # The only source is gone: every source failed, so there is no edition at all.
    source = replace(config.sources[0], location=str(tmp_path / "missing.txt"))
    broken = replace(config, sources=(source,))
    result = send(broken, db, s, DAY1, tmp_path / "out")
    assert result.status == "failed" and "build failed" in result.reason
    [verdict] = health(db, DAY1 + timedelta(minutes=5))
    assert not verdict.ok and "failed" in verdict.line


def test_health_reports_an_overdue_list_and_ignores_a_paused_one(config, db, readers):
    s = make(db)
    # Created now; its first send is tomorrow 08:00. Not overdue before that plus the grace.
    created = get_schedule(db, "morning").created_at
    tomorrow_8 = (created.astimezone(DAY1.tzinfo) + timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    assert health(db, created + timedelta(minutes=1))[0].ok
    [late] = health(db, tomorrow_8 + timedelta(hours=2))
    assert not late.ok and "overdue" in late.line
    make(db, paused=True)
    assert health(db, tomorrow_8 + timedelta(hours=2))[0].ok
    assert s.name == "morning"


class StopAfterFirstBatch:
    """The outbox, with a SIGTERM arriving while the first batch is being written."""

    def __init__(self, out, stop):
        from digest.delivery.outbox import OutboxBackend

        self.inner, self.stop = OutboxBackend(out), stop
        self.info, self.max_batch = self.inner.info, 1

    def send_batch(self, job, batch):
        self.stop.set()
        return self.inner.send_batch(job, batch)

    def close(self):
        self.inner.close()


def test_a_stop_finishes_the_batch_in_flight_and_the_next_start_resumes(
    config, db, readers, tmp_path
):
    from threading import Event

    from digest.schedule.runs import run_resume

    s = make(db)
    out = tmp_path / "out"
    stop = Event()
    cut = run_send(
        config,
        db,
        s,
        DAY1,
        out_dir=out,
        signer=SIGNER,
        stop=stop,
        backend=StopAfterFirstBatch(out, stop),
    )
    assert cut.status == "interrupted" and cut.counts["sent"] == 1 and len(emls(out)) == 1
    assert get_edition(db, cut.edition_id).status == "paused"
    assert not health(db, DAY1 + timedelta(minutes=5))[0].ok

    # Too late (more than RESUME_WITHIN after the send time): left for a person to decide.
    late = run_resume(
        config,
        db,
        get_schedule(db, "morning"),
        DAY1 + timedelta(hours=5),
        out_dir=out,
        signer=SIGNER,
    )
    assert late.reason == "too late to resume" and len(emls(out)) == 1
    resumed = run_resume(
        config,
        db,
        get_schedule(db, "morning"),
        DAY1 + timedelta(minutes=10),
        out_dir=out,
        signer=SIGNER,
    )
    assert resumed.status == "sent" and resumed.counts["sent"] == 3 and len(emls(out)) == 3
    again = run_resume(
        config,
        db,
        get_schedule(db, "morning"),
        DAY1 + timedelta(minutes=11),
        out_dir=out,
        signer=SIGNER,
    )
    assert again.reason == "nothing to resume" and len(emls(out)) == 3


def test_a_backend_that_cannot_start_fails_the_run_and_sends_nothing(config, db, readers, tmp_path):
    s = make(db, backend="sendgrid")  # no SENDGRID_API_KEY in this config
    result = run_send(config, db, s, DAY1, out_dir=tmp_path / "out", signer=SIGNER)
    assert result.status == "failed" and "SENDGRID_API_KEY" in result.reason
    assert get_edition(db, result.edition_id).status == "ready"
    [verdict] = health(db, DAY1 + timedelta(minutes=5))
    assert not verdict.ok
