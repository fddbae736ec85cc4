"""SendGrid's signed Event Webhook: verified, normalized, tied to editions, deduplicated."""

import time

import pytest

from digest.store.events import edition_counts
from digest.store.subscribers import is_suppressed
from tests.web.conftest import events_body, sign

HOOK = "/hooks/sendgrid"


def event(kind, n, email="reader@example.com", **extra):
    return {
        "event": kind,
        "email": email,
        "timestamp": 1751353200,
        "sg_event_id": f"ev-{kind}-{n}",
        "sg_message_id": "abc.filter",
        "edition_id": "matinale-2025-07-01",
        "delivery_id": "7",
        "list": "matinale",
        **extra,
    }


def post(client, key, *events, timestamp=None):
    body = events_body(*events)
    return client.post(HOOK, content=body, headers=sign(key, body, timestamp))


def test_signed_bounce_suppresses_the_address(client, webhook_key, web_db):
    response = post(client, webhook_key, event("bounce", 1, type="bounce"))
    assert response.status_code == 200, response.text
    assert is_suppressed(web_db, "reader@example.com")
    assert edition_counts(web_db, "matinale-2025-07-01") == {"bounce": 1}


def test_the_same_event_posted_twice_counts_once(client, webhook_key, web_db):
    delivered = event("delivered", 1)
    assert post(client, webhook_key, delivered, event("open", 1)).json()["new"] == 2
    again = post(client, webhook_key, delivered)  # SendGrid's retry
    assert again.status_code == 200 and again.json() == {"received": 1, "new": 0}
    assert edition_counts(web_db, "matinale-2025-07-01") == {"delivered": 1, "open": 1}


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("dropped", "dropped"),
        ("spamreport", "spamreport"),
        ("unsubscribe", "unsubscribe"),
        ("group_unsubscribe", "unsubscribe"),
    ],
)
def test_events_that_suppress(client, webhook_key, web_db, kind, reason):
    from sqlalchemy import select

    from digest.store import schema as t

    post(client, webhook_key, event(kind, 1, email="Someone@Example.com"))
    with web_db.read() as conn:
        row = conn.execute(select(t.suppressions)).one()
    assert (row.email_key, row.reason, row.source) == (
        "someone@example.com",
        reason,
        "sendgrid-webhook",
    )


def test_counted_and_ignored_events(client, webhook_key, web_db):
    post(
        client,
        webhook_key,
        event("click", 1),
        event("click", 2),
        event("processed", 1),
        event("deferred", 1),
        event("bounce", 9, type="blocked"),
        {"no": "event"},
    )
    assert edition_counts(web_db, "matinale-2025-07-01") == {"click": 2, "bounce": 1}
    assert not is_suppressed(web_db, "reader@example.com")  # "blocked" is not a dead address


def test_tampered_unsigned_forged_and_stale_posts_are_refused(client, webhook_key, web_db):
    from cryptography.hazmat.primitives.asymmetric import ec

    body = events_body(event("bounce", 1))
    headers = sign(webhook_key, body)
    tampered = body.replace(b"reader@example.com", b"victim@example.com")
    assert client.post(HOOK, content=tampered, headers=headers).status_code == 403
    assert (
        client.post(HOOK, content=body, headers={"Content-Type": "application/json"}).status_code
        == 403
    )
    other_key = ec.generate_private_key(ec.SECP256R1())
    assert client.post(HOOK, content=body, headers=sign(other_key, body)).status_code == 403
    stale = str(int(time.time()) - 3600)
    assert (
        client.post(HOOK, content=body, headers=sign(webhook_key, body, stale)).status_code == 403
    )
    moved = dict(headers, **{"X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()) + 1)})
    assert client.post(HOOK, content=body, headers=moved).status_code == 403
    refused = client.post(HOOK, content=tampered, headers=headers)
    assert refused.json() == {"error": "The signature does not match."}
    assert not is_suppressed(web_db, "victim@example.com")
    assert not is_suppressed(web_db, "reader@example.com")
    assert edition_counts(web_db, "matinale-2025-07-01") == {}


def test_verification_agrees_with_sendgrids_library(webhook_key):
    """Our check and sendgrid.helpers.eventwebhook accept and refuse the same posts."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    from digest.delivery.events import verify
    from tests.web.conftest import public_key_b64

    body = events_body(event("bounce", 1))
    headers = sign(webhook_key, body)
    sig = headers["X-Twilio-Email-Event-Webhook-Signature"]
    ts = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    key = public_key_b64(webhook_key)
    try:
        lib = EventWebhook(key)
    except ImportError:
        pytest.skip("starkbank-ecdsa is not installed")
    assert verify(key, sig, ts, body) and lib.verify_signature(body.decode(), sig, ts)
    assert not verify(key, sig, ts, body + b" ")
    assert not lib.verify_signature(body.decode() + " ", sig, ts)


def test_without_a_configured_key_everything_is_refused(site, webhook_key, tmp_path):
    from digest.config import load_config
    from digest.web.app import create_app
    from tests.web.conftest import Client

    config = load_config(site, env={"DIGEST_SECRET_KEY": "k" * 40})
    client = Client(create_app(config))
    try:
        assert post(client, webhook_key, event("bounce", 1)).status_code == 403
    finally:
        client.close()
