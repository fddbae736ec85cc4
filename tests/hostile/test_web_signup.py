"""The signup form as a mail cannon: one confirmation per address per hour, whatever the
client, with the same page for every answer (nothing to learn about an address)."""

from datetime import timedelta

from sqlalchemy import select

from digest.store import schema as t
from tests.hostile.webparts import *  # noqa: F403 - the web fixtures
from tests.hostile.webparts import Peer

VICTIM = "victim@example.net"


def outbox(config):
    return sorted((config.root / "web-outbox").glob("*.eml"))


def signup(peer, address, list_name="matinale"):
    return peer.post(
        "/signup", data={"csrf": peer.csrf("/signup"), "list": list_name, "email": address}
    )


def test_many_clients_cannot_mail_bomb_one_address(app, web_config, web_db):
    """Attack: 12 clients (12 addresses: each under the per-client limit) sign a victim up,
    in every spelling of the address."""
    peers = [Peer(app, f"203.0.113.{n}") for n in range(12)]
    try:
        spellings = [VICTIM, VICTIM.upper(), " Victim@Example.NET "]
        pages = [signup(p, spellings[n % 3]) for n, p in enumerate(peers)]
        assert {r.status_code for r in pages} == {200}
        assert len({r.text for r in pages}) == 1  # the same page, sent or not
        assert len(outbox(web_config)) == 1
        # Another address is not held back by the victim's.
        assert signup(peers[0], "someone@example.net").text == pages[0].text
        assert len(outbox(web_config)) == 2
    finally:
        for p in peers:
            p.close()


def test_the_record_keeps_no_address(app, web_config, web_db):
    """Attack: reading the database for who was typed into the form: only an HMAC is kept."""
    peer = Peer(app, "203.0.113.1")
    try:
        signup(peer, VICTIM)
        with web_db.read() as conn:
            [key] = conn.execute(select(t.signup_confirmations.c.address_key)).scalars()
        assert len(key) == 64 and "victim" not in key
        import hashlib

        assert key != hashlib.sha256(VICTIM.encode()).hexdigest()  # keyed: not guessable
    finally:
        peer.close()


def test_a_failed_send_does_not_use_up_the_hour(web_config, web_db):
    """Control: when the confirmation could not be sent, the person may try again at once."""
    from digest.delivery.outbox import OutboxBackend
    from digest.web.app import create_app

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the mail server is down")
        return OutboxBackend(web_config.root / "web-outbox")

    peer = Peer(create_app(web_config, db=web_db, make_backend=flaky), "203.0.113.1")
    try:
        assert signup(peer, VICTIM).status_code == 200
        assert outbox(web_config) == []
        assert signup(peer, VICTIM).status_code == 200
        assert len(outbox(web_config)) == 1
    finally:
        peer.close()


def test_one_claim_per_hour(web_db):
    """The store's rule on its own, with explicit times."""
    from digest.store.signups import claim_confirmation, release_confirmation

    now = t.utcnow()
    assert claim_confirmation(web_db, "k" * 64, now=now)
    assert not claim_confirmation(web_db, "k" * 64, now=now + timedelta(minutes=59))
    assert claim_confirmation(web_db, "j" * 64, now=now)  # another address
    assert claim_confirmation(web_db, "k" * 64, now=now + timedelta(minutes=61))
    later = now + timedelta(minutes=70)
    assert not claim_confirmation(web_db, "k" * 64, now=later)
    release_confirmation(web_db, "k" * 64, sent_at=now + timedelta(minutes=61))
    assert claim_confirmation(web_db, "k" * 64, now=later)
    with web_db.read() as conn:  # the rows of past hours are gone
        assert set(conn.execute(select(t.signup_confirmations.c.address_key)).scalars()) == {
            "k" * 64
        }
