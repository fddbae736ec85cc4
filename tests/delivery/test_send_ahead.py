"""The next batch read and prepared while the current one is in flight (digest/delivery/ahead.py):
its rows claimed by id when the read is recent, its request used only for exactly the rows
claimed; anything else (a row settled meanwhile, a read too old for its membership checks, a
ledger that could not be read) is claimed and prepared in turn, and nobody is mailed twice or
after leaving before their batch was read.

In-process through the real send loop and the real ``sendgrid`` library against the loopback
SendGrid-like server, on SQLite and PostgreSQL.
"""

from threading import Event

import pytest
from sqlalchemy import select, update
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


def test_workers_sharing_an_edition_do_not_look_ahead(config, db):
    subscribe(db, 1)
    with SendGridServer(api_key=KEY) as server:
        assert sender(config, db, server, share=True).ahead.enabled is False
        assert sender(config, db, server).ahead.enabled is True
