"""The send loop's rules, with a scripted backend on a fake clock and a real SQLite ledger.

The real backends are tested against real servers in tests/delivery; here the backend is a
stand-in that answers what each test scripts, so every branch of the loop is reached on purpose.
"""

import os
from datetime import datetime
from threading import Event

import pytest

from digest.config import load_config
from digest.delivery.base import BackendInfo, Outcome
from digest.delivery.loop import deliver
from digest.delivery.pacing import SlidingWindow
from digest.edition.build import edition_for_send
from digest.errors import DeliveryAuthError, DeliveryRefused, DeliveryTooLarge, DeliveryTransient
from digest.store import ledger
from digest.store.csvio import read_subscriber_csv
from digest.store.editions import EditionBusy, claim_edition
from digest.store.subscribers import import_subscribers, unsubscribe
from digest.tokens import TokenSigner
from tests.conftest import SAMPLE_NOW

SIGNER = TokenSigner("k" * 40)


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Scripted:
    """Answers per call from a script; 'ok' once the script runs out."""

    def __init__(self, script=(), *, max_batch=1000, per_recipient=None, on_call=None):
        self.script = list(script)
        self.max_batch = max_batch
        self.per_recipient = per_recipient  # f(recipient) -> Outcome status or None for sent
        self.on_call = on_call
        self.calls = []
        self.delivered = []  # subscriber emails, in order, for every 'sent' outcome
        self.info = BackendInfo(name="scripted", destination="memory")
        self.closed = False

    def send_batch(self, job, batch):
        self.calls.append([r.subscriber.email for r in batch])
        if self.on_call:
            self.on_call(len(self.calls), batch)
        action = self.script.pop(0) if self.script else "ok"
        if isinstance(action, Exception):
            raise action
        if callable(action):
            action = action(batch)
            if isinstance(action, Exception):
                raise action
        outcomes = []
        for r in batch:
            status = self.per_recipient(r) if self.per_recipient else "sent"
            if status == "sent":
                self.delivered.append(r.subscriber.email)
            outcomes.append(Outcome(r.subscriber.id, status, f"{status} by script"))
        return outcomes

    def close(self):
        self.closed = True


@pytest.fixture
def config(site, tmp_path):
    text = (
        site.read_text() + "\n[delivery]\nbatch_size = 10\nmax_retries = 3\n"
        "error_budget = 0.2\nerror_budget_min = 10\n"
    )
    site.write_text(text)
    return load_config(site, env={})


def subscribe(db, n):
    body = "email,name\n" + "".join(f"reader{i:03d}@example.com,Reader {i}\n" for i in range(n))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))


def stored(config, db):
    edition, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    return edition


def run(config, db, backend, clock=None, **kw):
    clock = clock or FakeClock()
    return deliver(
        config,
        db,
        stored(config, db),
        backend,
        signer=SIGNER,
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
        **kw,
    )


def test_everyone_once_in_batches(config, db):
    subscribe(db, 35)
    backend = Scripted()
    report = run(config, db, backend)
    assert (report.status, report.sent, report.total) == ("sent", 35, 35)
    assert [len(c) for c in backend.calls] == [10, 10, 10, 5]
    assert sorted(backend.delivered) == sorted(set(backend.delivered))
    assert backend.closed


def test_transient_errors_wait_as_told_then_retry(config, db):
    subscribe(db, 20)
    clock = FakeClock()
    backend = Scripted(
        [
            DeliveryTransient("429", retry_after=7.0),
            DeliveryTransient("503"),
            "ok",
            DeliveryTransient("dropped"),
        ]
    )
    report = run(config, db, backend, clock)
    assert (report.status, report.sent) == ("sent", 20)
    assert len(backend.delivered) == 20 == len(set(backend.delivered))
    # Retry-After honoured; otherwise full-jitter backoff (rng=0.5): 0.5 * base * 2**(n-1)
    assert clock.sleeps == [7.0, 1.0, 0.5]
    assert report.requests == 5


def test_transient_errors_past_the_retry_budget_pause_with_nothing_lost(config, db):
    subscribe(db, 20)
    backend = Scripted(["ok"] + [DeliveryTransient("HTTP 500")] * 10)
    report = run(config, db, backend)
    assert report.status == "paused" and "gave up after 4 tries" in report.reason
    assert (report.sent, report.pending, report.failed) == (10, 10, 0)
    again = Scripted()
    report = run(config, db, again)
    assert (report.status, report.sent) == ("sent", 20)
    assert sorted(backend.delivered + again.delivered) == [
        f"reader{i:03d}@example.com" for i in range(20)
    ]


def test_too_large_splits_the_batch(config, db):
    subscribe(db, 10)

    def only_small(batch):
        return DeliveryTooLarge("413") if len(batch) > 3 else "ok"

    backend = Scripted([only_small] * 20)
    report = run(config, db, backend)
    assert (report.status, report.sent) == ("sent", 10)
    assert [len(c) for c in backend.calls] == [10, 5, 2, 3, 5, 2, 3]
    assert sorted(backend.delivered) == [f"reader{i:03d}@example.com" for i in range(10)]


def test_auth_error_stops_at_once_and_sends_nothing(config, db):
    subscribe(db, 30)
    backend = Scripted(["ok", DeliveryAuthError("SendGrid refused the API key (401)")])
    report = run(config, db, backend)
    assert report.status == "paused" and "API key" in report.reason
    assert len(backend.calls) == 2
    assert (report.sent, report.pending, report.failed) == (10, 20, 0)


def test_a_refused_batch_fails_and_pauses(config, db):
    subscribe(db, 30)
    backend = Scripted(["ok", DeliveryRefused("HTTP 400", detail="bad from address")])
    report = run(config, db, backend)
    assert report.status == "paused" and "bad from address" in report.reason
    assert (report.sent, report.failed, report.pending) == (10, 10, 10)
    report = run(config, db, Scripted())
    assert (report.status, report.sent, report.failed) == ("sent", 20, 10)


def test_per_recipient_retry_comes_back_later_and_gives_up(config, db):
    subscribe(db, 12)
    tries = {}

    def flaky(recipient):
        email = recipient.subscriber.email
        tries[email] = tries.get(email, 0) + 1
        if email == "reader003@example.com":
            return "retry"  # never accepted
        if email == "reader005@example.com" and tries[email] == 1:
            return "retry"  # accepted the second time
        return "sent"

    report = run(config, db, Scripted(per_recipient=flaky))
    assert report.status == "sent"
    assert (report.sent, report.failed) == (11, 1)
    assert tries["reader005@example.com"] == 2 and tries["reader003@example.com"] == 4
    assert report.failures == [("reader003@example.com", "gave up after 4 tries: retry by script")]


def test_error_budget_pauses_the_send(config, db):
    subscribe(db, 40)
    report = run(
        config,
        db,
        Scripted(per_recipient=lambda r: "failed" if r.subscriber.id % 3 == 0 else "sent"),
    )
    assert report.status == "paused" and "error budget spent" in report.reason
    assert report.pending == 30


def test_stop_finishes_the_batch_in_flight_then_resumes(config, db):
    subscribe(db, 30)
    stop = Event()
    backend = Scripted(on_call=lambda n, batch: stop.set() if n == 2 else None)
    report = run(config, db, backend, stop=stop)
    assert report.status == "interrupted" and (report.sent, report.pending) == (20, 10)
    again = Scripted()
    report = run(config, db, again)
    assert (report.status, report.sent) == ("sent", 30)
    assert (
        len(set(backend.delivered + again.delivered))
        == 30
        == len(backend.delivered + again.delivered)
    )


def test_an_unsubscribe_during_the_send_is_honoured(config, db):
    subscribe(db, 30)

    def leave(n, batch):
        if n == 1:
            unsubscribe(db, "reader025@example.com", "matinale")

    backend = Scripted(on_call=leave)
    report = run(config, db, backend)
    assert "reader025@example.com" not in backend.delivered
    assert (report.sent, report.skipped) == (29, 1)


def test_rows_in_flight_at_a_crash_become_unknown_and_are_resent_only_on_request(config, db):
    subscribe(db, 25)
    edition = stored(config, db)
    dead = "ghost-host:999999:abcd"  # another machine's owner whose lease is stale
    claim_edition(
        db,
        edition.id,
        dead,
        backend="scripted",
        now=datetime.fromisoformat("2000-01-01T00:00:00+00:00"),
    )
    ledger.populate(db, edition.id, edition.list_id)
    batch = ledger.claim_batch(db, edition.id, edition.list_id, after=0, limit=10)
    assert len(batch.claimed) == 10  # 'sending' when the process 'died'

    backend = Scripted()
    report = run(config, db, backend)
    assert (report.status, report.sent, report.unknown, report.newly_unknown) == (
        "sent",
        15,
        10,
        10,
    )
    assert not set(backend.delivered) & {c.subscriber.email for c in batch.claimed}
    assert report.status == "sent"

    from sqlalchemy import update

    from digest.store.editions import get_edition
    from digest.store.schema import editions

    with db.write() as conn:  # an operator decides to resend: reopen the edition
        conn.execute(update(editions).values(status="paused"))
    resend = Scripted()
    report = deliver(
        config, db, get_edition(db, edition.id), resend, signer=SIGNER, resend_unknown=True
    )
    assert sorted(resend.delivered) == sorted(c.subscriber.email for c in batch.claimed)
    assert (report.sent, report.unknown) == (25, 0)


def test_a_live_lease_refuses_a_second_sender(config, db):
    subscribe(db, 5)
    edition = stored(config, db)
    import socket

    owner = f"{socket.gethostname()}:{os.getppid()}:live"
    claim_edition(db, edition.id, owner, backend="scripted")
    with pytest.raises(EditionBusy, match="being sent by another process"):
        run(config, db, Scripted())


def test_dead_local_owner_is_taken_over_at_once(config, db):
    subscribe(db, 5)
    edition = stored(config, db)
    import socket

    owner = f"{socket.gethostname()}:{2**22 + 12345}:dead"  # beyond pid_max: no such process
    claim_edition(db, edition.id, owner, backend="scripted")
    assert run(config, db, Scripted()).sent == 5


def test_rate_limit_paces_batches_on_the_clock(config, db, site):
    site.write_text(
        site.read_text().replace("batch_size = 10", "batch_size = 10\nrate_per_second = 4")
    )
    config = load_config(site, env={})
    subscribe(db, 12)
    clock = FakeClock()
    sent_at = []
    backend = Scripted(on_call=lambda n, batch: sent_at.extend([clock.now] * len(batch)))
    report = run(config, db, backend, clock)
    assert report.sent == 12 and all(len(c) <= 4 for c in backend.calls)
    for t in sent_at:  # no one-second window holds more than 4 messages
        assert sum(1 for u in sent_at if t <= u < t + 1.0) <= 4
    assert sent_at[-1] - sent_at[0] >= 2.0


def test_sliding_window_is_not_a_fixed_window():
    clock = FakeClock()
    window = SlidingWindow(10, 60.0, clock=clock, sleep=clock.sleep)
    clock.now = 59.0
    window.acquire(10)  # 10 at t=59
    clock.now = 61.0  # a fixed window would have reset at t=60
    waited = window.acquire(5)
    assert waited == pytest.approx(58.0) and clock.now == pytest.approx(119.0)
    with pytest.raises(ValueError):
        window.acquire(11)
