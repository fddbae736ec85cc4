"""The next batch read and prepared while the current one is in flight (digest/delivery/ahead.py):
its rows claimed by id when the read is recent, its request used only for exactly the rows
claimed; anything else (a row settled meanwhile, a read too old for its membership checks, a
ledger that could not be read) is claimed and prepared in turn, and nobody is mailed twice or
after leaving before their batch was read.

In-process through the real send loop and the real ``sendgrid`` library against the loopback
SendGrid-like server, on SQLite and PostgreSQL.
"""

import time
from threading import Barrier, Event, Thread

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from digest.config import SendGridConfig, load_config
from digest.delivery.loop import Sender
from digest.delivery.sendgrid import SendGridBackend
from digest.store import claims, ledger
from digest.store import schema as t
from digest.store.editions import get_edition
from digest.store.subscribers import unsubscribe
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.test_send_recovery import KEY, SIGNER, stored, subscribe


@pytest.fixture
def config(site):
    site.write_text(site.read_text() + "\n[delivery]\nbatch_size = 10\n")
    return load_config(site, env={})


def sender(config, db, server, **kw):
    backend = SendGridBackend(SendGridConfig(api_host=server.url, api_key=KEY, timeout=5))
    return Sender(config, db, get_edition(db, stored(config, db).id), backend, signer=SIGNER, **kw)


def each_once(server, everyone):
    delivered = server.delivered_addresses()
    assert sorted(delivered) == sorted(everyone), "someone missing or mailed twice"
    assert server.violations == []


def test_every_batch_after_the_first_goes_out_as_it_was_prepared_ahead(config, db):
    everyone = subscribe(db, 50)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server)
        report = s.run()
        assert report.status == "sent" and report.sent == 50
        assert (s.ahead.hits, s.ahead.misses) == (4, 0)
        assert len(server.requests) == 5
        each_once(server, everyone)
        # Prepared ahead or not, a request is the same: each recipient's own values.
        for body in server.requests:
            for p in body["personalizations"]:
                assert p["to"][0]["email"] in everyone
                assert p["substitutions"]


def during_the_first_post(monkeypatch, s, change):
    """Run ``change()`` while the first batch is posted, once the look ahead has read the
    second (so what it read is no longer what the ledger holds)."""
    peeked = Event()
    real_peek = claims.peek

    def peek(*args, **kw):
        seen = real_peek(*args, **kw)
        peeked.set()
        return seen

    monkeypatch.setattr(claims, "peek", peek)
    post = s.backend.send_prepared
    calls = []

    def posting(prepared):
        calls.append(1)
        if len(calls) == 1:
            assert peeked.wait(10)
            change()
        return post(prepared)

    monkeypatch.setattr(s.backend, "send_prepared", posting)


def test_a_reader_who_left_before_the_look_ahead_read_their_batch_is_skipped(
    config, db, monkeypatch
):
    everyone = subscribe(db, 40)
    leaver = everyone[15]  # in the second batch
    real_peek = claims.peek

    def leaves_first(*args, **kw):
        if kw["after"] == 10:
            unsubscribe(db, leaver, "matinale")
        return real_peek(*args, **kw)

    monkeypatch.setattr(claims, "peek", leaves_first)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server)
        report = s.run()
        assert report.status == "sent" and report.sent == 39
        assert (s.ahead.hits, s.ahead.misses) == (3, 0)
        counts = ledger.counts(db, report.edition_id)
        assert counts["skipped"] == 1 and counts["sent"] == 39
        each_once(server, [e for e in everyone if e != leaver])


def test_a_look_ahead_too_old_for_its_checks_is_read_again_by_the_claim(config, db, monkeypatch):
    everyone = subscribe(db, 40)
    leaver = everyone[15]
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server)
        s.ahead.fresh_seconds = 0  # as after a long Retry-After
        during_the_first_post(monkeypatch, s, lambda: unsubscribe(db, leaver, "matinale"))
        report = s.run()
        assert report.status == "sent" and report.sent == 39
        assert s.ahead.misses == 1 and s.ahead.hits == 2  # the claim found the leaver
        assert ledger.counts(db, report.edition_id)["skipped"] == 1
        each_once(server, [e for e in everyone if e != leaver])


def test_a_row_no_longer_pending_is_left_out_and_the_rest_prepared_again(config, db, monkeypatch):
    everyone = subscribe(db, 40)
    gone = everyone[12]

    def settle_elsewhere():  # as another claimer, or an operator's change, would
        with db.write() as conn:
            conn.execute(
                update(t.deliveries)
                .where(t.deliveries.c.subscriber_id == subscriber_id(db, gone))
                .values(status="skipped", detail="settled elsewhere")
            )

    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server)
        during_the_first_post(monkeypatch, s, settle_elsewhere)
        report = s.run()
        assert report.status == "sent" and report.sent == 39
        assert s.ahead.misses == 1 and s.ahead.hits == 2
        counts = ledger.counts(db, report.edition_id)
        assert (counts["sent"], counts["sending"], counts["pending"]) == (39, 0, 0)
        each_once(server, [e for e in everyone if e != gone])


def subscriber_id(db, email):
    with db.read() as conn:
        return conn.scalar(select(t.subscribers.c.id).where(t.subscribers.c.email == email))


def test_a_ledger_that_cannot_be_read_ahead_is_claimed_and_prepared_in_turn(
    config, db, monkeypatch
):
    everyone = subscribe(db, 30)

    def outage(*args, **kw):
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(claims, "peek", outage)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server)
        report = s.run()
        assert report.status == "sent" and report.sent == 30
        assert s.ahead.hits == 0
        each_once(server, everyone)


def test_a_look_ahead_that_keeps_missing_is_given_up(config, db, monkeypatch):
    everyone = subscribe(db, 80)
    nothing = claims.Peek([], [], [], None)  # never what the claim returns
    monkeypatch.setattr(claims, "peek", lambda *a, **kw: nothing)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server)
        report = s.run()
        assert report.status == "sent" and report.sent == 80
        assert (s.ahead.hits, s.ahead.misses, s.ahead.enabled) == (0, 3, False)
        each_once(server, everyone)


def pg_only(db):
    if db.dialect != "postgresql":
        pytest.skip("workers share an edition on PostgreSQL only")


def open_transactions(db) -> int:
    """Connections of this database left idle inside a transaction (a reserve never let go)."""
    with db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            )
        ).scalar_one()


def reserve_seen(monkeypatch) -> Event:
    """An Event set once the look ahead has reserved a batch."""
    reserved = Event()
    real_reserve = claims.reserve

    def reserve(*args, **kw):
        got = real_reserve(*args, **kw)
        reserved.set()
        return got

    monkeypatch.setattr(claims, "reserve", reserve)
    return reserved


def test_a_worker_beside_others_reserves_its_next_batch(config, db):
    subscribe(db, 1)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server, share=True)
        assert (s.ahead.enabled, s.ahead.reserve) == (True, True)
        assert sender(config, db, server).ahead.reserve is False


def test_two_workers_reserving_ahead_mail_everyone_once(config, db):
    pg_only(db)
    everyone = subscribe(db, 120)
    with SendGridServer(api_key=KEY) as server:
        server.delay = 0.02  # batches in flight long enough for the two to interleave
        first = sender(config, db, server, share=True)
        second = sender(config, db, server, share=True)
        reports = {}
        start = Barrier(2)

        def work(name, s):
            start.wait()
            reports[name] = s.run()

        threads = [Thread(target=work, args=(n, s)) for n, s in (("a", first), ("b", second))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert first.sent_this_run + second.sent_this_run == 120
        assert all(r.sent == 120 for r in reports.values())  # the edition's count
        each_once(server, everyone)
        assert first.ahead.hits + second.ahead.hits >= 6  # most batches were reserved ahead
        assert first.ahead.misses == second.ahead.misses == 0
    with db.read() as conn:
        rows = conn.execute(select(t.deliveries.c.status, t.deliveries.c.attempts)).all()
    assert rows and all(row == ("sent", 1) for row in rows)
    assert open_transactions(db) == 0


def test_reserved_rows_are_skipped_by_another_workers_claim(config, db, monkeypatch):
    pg_only(db)
    everyone = subscribe(db, 30)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server, share=True)
        reserved = reserve_seen(monkeypatch)
        post = s.backend.send_prepared
        other = []

        def posting(prepared):
            if not other:
                assert reserved.wait(10)
                # Another worker claims while rows 11-20 are reserved: it gets 21-30.
                other.append(
                    ledger.claim_batch(
                        db, s.stored.id, s.stored.list_id, after=0, limit=10, owner="other"
                    )
                )
            return post(prepared)

        monkeypatch.setattr(s.backend, "send_prepared", posting)
        s.run()
        taken = other[0].claimed
        assert [c.subscriber.email for c in taken] == everyone[20:30]
        # The other worker answers its batch.
        ledger.record(db, [(c.delivery_id, "sent", "m") for c in taken], edition_id=s.stored.id)
        assert sorted(server.delivered_addresses()) == everyone[:20]
        assert s.ahead.hits >= 1
    assert open_transactions(db) == 0


def test_a_reserve_held_past_its_freshness_is_let_go_while_the_batch_waits(config, db, monkeypatch):
    # A long wait on the batch in flight (a Retry-After) must not keep the next rows locked:
    # `digest cancel` and an erasure would wait for them as long.
    pg_only(db)
    everyone = subscribe(db, 30)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server, share=True)
        s.ahead.fresh_seconds = 0.3
        reserved = reserve_seen(monkeypatch)
        post = s.backend.send_prepared
        other = []

        def posting(prepared):
            if not other:
                assert reserved.wait(10)
                time.sleep(1.0)  # the first batch waits; its reserve (rows 11-20) lapses
                with db.write() as conn:  # what `digest cancel` does: not held up any more
                    conn.execute(text("SET LOCAL lock_timeout = '500ms'"))
                    conn.execute(text("SELECT id FROM deliveries FOR UPDATE"))
                other.append(
                    ledger.claim_batch(
                        db, s.stored.id, s.stored.list_id, after=0, limit=10, owner="other"
                    )
                )
            return post(prepared)

        monkeypatch.setattr(s.backend, "send_prepared", posting)
        s.run()
        taken = other[0].claimed
        assert [c.subscriber.email for c in taken] == everyone[10:20]
        ledger.record(db, [(c.delivery_id, "sent", "m") for c in taken], edition_id=s.stored.id)
        assert sorted(server.delivered_addresses()) == everyone[:10] + everyone[20:]
    assert open_transactions(db) == 0


def test_a_stop_lets_the_reserved_rows_go(config, db, monkeypatch):
    pg_only(db)
    everyone = subscribe(db, 40)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server, share=True)
        post = s.backend.send_prepared

        def posting(prepared):
            s.stop.set()  # Ctrl-C while the first batch is in flight (the next is reserved)
            return post(prepared)

        monkeypatch.setattr(s.backend, "send_prepared", posting)
        report = s.run()
        assert report.sent == 10
    assert open_transactions(db) == 0
    # Nothing holds rows 11-40: a claim, which skips locked rows, gets them all.
    batch = ledger.claim_batch(db, s.stored.id, s.stored.list_id, after=0, limit=100, owner="x")
    assert [c.subscriber.email for c in batch.claimed] == everyone[10:]
    assert all(c.attempts == 1 for c in batch.claimed)


def test_a_reserve_too_old_is_let_go_and_claimed_again(config, db):
    pg_only(db)
    everyone = subscribe(db, 30)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server, share=True)
        s.ahead.fresh_seconds = -1.0  # every reserve is too old by the time it is claimed
        report = s.run()
        assert report.status == "sent" and report.sent == 30
        each_once(server, everyone)
    assert open_transactions(db) == 0


def test_a_reserved_claim_that_fails_is_claimed_again(config, db, monkeypatch):
    pg_only(db)
    everyone = subscribe(db, 30)

    def broken(reserved, *args, **kw):
        claims.release(reserved)
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(claims, "claim_reserved", broken)
    with SendGridServer(api_key=KEY) as server:
        s = sender(config, db, server, share=True)
        report = s.run()
        assert report.status == "sent" and report.sent == 30
        each_once(server, everyone)
    assert open_transactions(db) == 0
