"""Nobody lost after a refusal, the operator in control (issue 11): the exact state of every row
after each answer, retry-failed, resend-unknown on a sent edition, cancel, Retry-After.

In-process through the real send loop, the real ``sendgrid`` library against the loopback
SendGrid-like server (tests/delivery/sendgrid_server.py), on SQLite and PostgreSQL.
"""

from datetime import datetime
from threading import Event

import pytest
from sqlalchemy import select

from digest.config import SendGridConfig, load_config
from digest.delivery.loop import deliver
from digest.delivery.sendgrid import SendGridBackend
from digest.edition.build import edition_for_send
from digest.schedule.runs import run_send
from digest.store import ledger
from digest.store import schema as t
from digest.store.csvio import read_subscriber_csv
from digest.store.editions import AlreadySent, cancel_edition, get_edition
from digest.store.subscribers import import_subscribers
from digest.tokens import TokenSigner
from tests.conftest import SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.test_send_loop import FakeClock, Scripted

SIGNER = TokenSigner("k" * 40)
KEY = "SG.recovery-key"


@pytest.fixture
def config(site):
    site.write_text(
        site.read_text() + "\n[delivery]\nbatch_size = 10\nmax_retries = 3\nbackoff_max = 2\n"
    )
    return load_config(site, env={})


def subscribe(db, n):
    body = "email,name\n" + "".join(f"reader{i:04d}@example.com,R {i}\n" for i in range(n))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))
    return [f"reader{i:04d}@example.com" for i in range(n)]


def stored(config, db):
    return edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )[0]


def run(config, db, backend, clock=None, **kw):
    clock = clock or FakeClock()
    return deliver(
        config,
        db,
        get_edition(db, stored(config, db).id),
        backend,
        signer=SIGNER,
        clock=clock,
        sleep=kw.pop("sleep", clock.sleep),
        rng=lambda: 0.5,
        **kw,
    )


def sendgrid(server, config):
    return SendGridBackend(SendGridConfig(api_host=server.url, api_key=KEY, timeout=2))


# -- 4. a split batch: each half recorded as its answer comes ---------------------------------


@pytest.mark.parametrize(("refusal", "second_half"), [("400", "failed"), ("401", "pending")])
def test_the_acknowledged_half_of_a_split_batch_is_recorded_sent(
    config, db, site, refusal, second_half
):
    site.write_text(site.read_text().replace("batch_size = 10", "batch_size = 1000"))
    config = load_config(site, env={})
    everyone = subscribe(db, 1000)
    with SendGridServer(api_key=KEY) as server:
        server.script(["413", "ok", refusal])
        report = run(config, db, sendgrid(server, config))
        assert report.status == "paused"
        counts = ledger.counts(db, report.edition_id)
        # Before: the first half's 500 confirmed deliveries stayed 'sending' (then 'unknown').
        assert counts["sent"] == 500 and counts[second_half] == 500
        assert counts["sending"] == counts["unknown"] == 0
        # The advice of either pause, followed, mails nobody twice.
        report = run(config, db, sendgrid(server, config), resend_unknown=True, retry_failed=True)
        assert report.status == "sent" and report.sent == 1000
        assert sorted(server.delivered_addresses()) == everyone


# -- 8. Retry-After: honoured beyond backoff_max, up to retry_after_max -----------------------


def test_a_retry_after_above_backoff_max_is_waited_in_full(config, db):
    subscribe(db, 10)
    clock = FakeClock()
    with SendGridServer(api_key=KEY) as server:
        server.script(["429:300"])
        report = run(config, db, sendgrid(server, config), clock)
    assert report.status == "sent" and report.sent == 10
    assert clock.sleeps == [300.0]  # before: cut to backoff_max (2 s), then refused again


def test_a_retry_after_beyond_the_ceiling_pauses_with_the_batch_pending(config, db):
    subscribe(db, 20)
    clock = FakeClock()
    with SendGridServer(api_key=KEY) as server:
        server.script(["ok", "429:7200"])
        report = run(config, db, sendgrid(server, config), clock)
        assert report.status == "paused" and "retry_after_max (3600 s)" in report.reason
        assert clock.sleeps == []
        assert ledger.counts(db, report.edition_id)["pending"] == 10
        assert run(config, db, sendgrid(server, config)).sent == 20
        assert len(server.delivered_addresses()) == 20 == len(set(server.delivered_addresses()))


def test_a_stop_during_a_retry_after_wait_leaves_the_batch_pending(config, db):
    subscribe(db, 20)
    stop = Event()
    waits = []

    def sigterm_while_waiting(seconds):  # what the CLI's SIGTERM handler does meanwhile
        waits.append(seconds)
        stop.set()

    with SendGridServer(api_key=KEY) as server:
        server.script(["ok", "429:600"])
        report = run(config, db, sendgrid(server, config), stop=stop, sleep=sigterm_while_waiting)
        assert server.attempts == 2  # the refused batch was not posted again
    assert report.status == "interrupted" and waits == [600.0]
    counts = ledger.counts(db, report.edition_id)
    assert (counts["sent"], counts["pending"], counts["sending"], counts["unknown"]) == (
        10,
        10,
        0,
        0,
    )


def test_the_default_wait_returns_at_once_on_a_stop_request(config, db):
    """Without an injected sleep the loop waits on the stop Event itself."""
    subscribe(db, 10)
    stop = Event()
    with SendGridServer(api_key=KEY) as server:
        server.script(["429:3000"])
        edition = stored(config, db)
        from threading import Timer

        Timer(0.3, stop.set).start()
        report = deliver(config, db, edition, sendgrid(server, config), signer=SIGNER, stop=stop)
    assert report.status == "interrupted"
    assert ledger.counts(db, edition.id)["pending"] == 10


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_stops_a_running_sender_after_its_batch_and_for_good(config, db):
    subscribe(db, 40)
    edition = stored(config, db)

    def cancel_during_the_second_batch(n, batch):
        if n == 2:
            done = cancel_edition(db, edition.id, reason="wrong headline")
            assert done["in_flight"] == 10  # left to the live sender (this one) to record

    backend = Scripted(on_call=cancel_during_the_second_batch)
    report = run(config, db, backend)
    assert report.status == "cancelled"
    counts = ledger.counts(db, edition.id)
    # The batch in flight was recorded as answered; the rest will never be sent.
    assert (counts["sent"], counts["cancelled"], counts["pending"], counts["sending"]) == (
        20,
        20,
        0,
        0,
    )
    assert len(backend.calls) == 2
    after = get_edition(db, edition.id)
    assert after.status == "cancelled" and after.reason == "wrong headline"
    with pytest.raises(AlreadySent, match="cancelled"):
        run(config, db, Scripted())
    with pytest.raises(AlreadySent, match="cancelled"):  # not even to resend or retry
        run(config, db, Scripted(), resend_unknown=True, retry_failed=True)


def test_a_cancelled_edition_is_not_sent_by_the_scheduler(config, db, tmp_path):
    from digest.store.schedules import Schedule

    subscribe(db, 5)
    edition = stored(config, db)
    cancel_edition(db, edition.id)
    schedule = Schedule(
        name="matin",
        list_name="matinale",
        cron="0 8 * * *",
        timezone="Africa/Casablanca",
        backend="outbox",
    )
    backend = Scripted()
    result = run_send(
        config,
        db,
        schedule,
        datetime.fromisoformat(SAMPLE_NOW),
        out_dir=tmp_path / "o",
        signer=SIGNER,
        backend=backend,
    )
    assert result.status == "done" and backend.calls == []
    assert get_edition(db, edition.id).status == "cancelled"  # before: sent at send time


def test_cancel_of_a_dead_sender_marks_its_in_flight_rows_unknown(config, db):
    subscribe(db, 15)
    edition = stored(config, db)
    from digest.store.editions import claim_edition

    claim_edition(
        db,
        edition.id,
        "ghost-host:999999:dead",
        backend="scripted",
        now=datetime.fromisoformat("2000-01-01T00:00:00+00:00"),
    )
    ledger.populate(db, edition.id, edition.list_id)
    ledger.claim_batch(db, edition.id, edition.list_id, after=0, limit=10)
    done = cancel_edition(db, edition.id)
    assert done == {"cancelled": 5, "in_flight": 0, "already": 0}
    counts = ledger.counts(db, edition.id)
    assert (counts["unknown"], counts["cancelled"], counts["sending"]) == (10, 5, 0)
    assert cancel_edition(db, edition.id)["already"] == 1


# -- retry-failed / resend-unknown, in the ledger -----------------------------------------------


def test_retry_failed_by_reason_and_the_status_counts(config, db):
    subscribe(db, 12)

    def refuse(r):
        n = r.subscriber.id
        return "failed" if n in (2, 3) else "sent"

    edition = stored(config, db)
    first = Scripted(per_recipient=refuse)
    report = run(config, db, first)
    assert (report.status, report.failed) == ("sent", 2)
    with db.write() as conn:  # two different reasons
        conn.execute(
            t.deliveries.update()
            .where(t.deliveries.c.subscriber_id == 3)
            .values(detail="553 5.7.1 sender rejected")
        )
    assert ledger.failure_reasons(db, edition.id) == [
        ("553 5.7.1 sender rejected", 1),
        ("failed by script", 1),
    ]
    again = Scripted()
    report = run(config, db, again, retry_failed=True, reason="553")
    assert (report.status, report.retried, report.failed) == ("sent", 1, 1)
    assert again.delivered == ["reader0002@example.com"]
    assert ledger.requeued(db, edition.id) == {"failed": {"sent": 1}}
    with db.read() as conn:
        assert conn.scalar(select(t.editions.c.status)) == "sent"
