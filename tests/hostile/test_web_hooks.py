"""Hostile posts to the SendGrid webhook (POST /hooks/sendgrid): huge bodies, deep JSON,
impossible ids, colliding event ids, stale timestamps. Each test names its attack."""

import json
import time

import pytest
from sqlalchemy import func, select

from digest.store import schema as t
from digest.store.events import edition_counts
from digest.store.subscribers import is_suppressed
from digest.web.hooks import MAX_BODY
from tests.hostile.webparts import *  # noqa: F403 - the web fixtures
from tests.hostile.webparts import events_body, sign

HOOK = "/hooks/sendgrid"
HUGE = 300_000_000
CHUNK = 64 * 1024


class Body:
    """A request body produced on demand, counting what the server pulled from it."""

    def __init__(self, total: int):
        self.total, self.consumed = total, 0

    async def __aiter__(self):
        chunk = b"[" + b" " * (CHUNK - 1)
        while self.consumed < self.total:
            self.consumed += len(chunk)
            yield chunk


def event(n=1, **extra):
    return {
        "event": "delivered",
        "email": "reader@example.com",
        "timestamp": 1751353200,
        "sg_event_id": f"ev-{n}",
        "edition_id": "matinale-2025-07-01",
        **extra,
    }


def post(client, key, *events, body=None, timestamp=None):
    body = events_body(*events) if body is None else body
    return client.post(HOOK, content=body, headers=sign(key, body, timestamp))


def stored_events(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(t.events)).scalar_one()


def test_huge_unsigned_post_is_refused_before_its_body_is_read(client):
    """Attack: 300 MB without signature headers (the one that grew the server to 671 MB)."""
    body = Body(HUGE)
    response = client.post(HOOK, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 403
    assert body.consumed == 0


def test_huge_declared_length_is_refused_before_its_body_is_read(client, webhook_key):
    """Attack: a (forged) signed post declaring Content-Length: 300 MB."""
    body = Body(HUGE)
    headers = dict(sign(webhook_key, b"[]"), **{"Content-Length": str(HUGE)})
    response = client.post(HOOK, content=body, headers=headers)
    assert response.status_code == 413, response.text
    assert "larger than 5,000,000 bytes" in response.json()["error"]
    assert body.consumed == 0


def test_huge_chunked_post_is_cut_off_at_the_limit(client, webhook_key, web_db):
    """Attack: 300 MB chunked (no length to check up front), with signature headers."""
    body = Body(HUGE)
    response = client.post(HOOK, content=body, headers=sign(webhook_key, b"[]"))
    assert response.status_code == 413
    # Read chunk by chunk and stopped one chunk past the limit, not at the end.
    assert MAX_BODY < body.consumed <= MAX_BODY + CHUNK
    assert stored_events(web_db) == 0


def test_forms_are_limited_too(client):
    """Attack: a 300 MB "form" posted to the login page."""
    body = Body(HUGE)
    response = client.post(
        "/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert body.consumed <= 1_000_000 + CHUNK


def test_deeply_nested_json_gets_400(client, webhook_key):
    """Attack: a signed body of arrays nested 100,000 deep (RecursionError: was a 500)."""
    body = b"[" * 100_000 + b"]" * 100_000
    response = post(client, webhook_key, body=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]


@pytest.mark.parametrize(
    "delivery_id",
    [10**30, str(10**30), -1, "-1", 0, "abc", "7 ", 7.5, True, [], {"id": 7}, "٧", "9" * 5000],
)
def test_impossible_ledger_ids_get_400_and_nothing_is_stored(
    client, webhook_key, web_db, delivery_id
):
    """Attack: custom_args delivery_id out of the ledger's range or not a number (10**30 was a
    500 on both databases: an integer overflow)."""
    bounce = dict(event(1, delivery_id="7"), event="bounce", email="victim@example.com")
    response = post(client, webhook_key, bounce, event(2, delivery_id=delivery_id))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("Event 2: delivery_id")
    # Refused as a whole: the good event before it is not half-applied either.
    assert stored_events(web_db) == 0
    assert not is_suppressed(web_db, "victim@example.com")


def test_valid_ledger_ids_are_kept(client, webhook_key, web_db):
    """Control for the above: the ids SendGrid really sends back (strings) and JSON numbers."""
    response = post(
        client, webhook_key, event(1, delivery_id="7"), event(2, delivery_id=2**31 - 1), event(3)
    )
    assert response.status_code == 200 and response.json()["new"] == 3
    with web_db.read() as conn:
        ids = sorted(
            conn.execute(select(t.events.c.delivery_id)).scalars(), key=lambda v: (v is None, v)
        )
    assert ids == [7, 2**31 - 1, None]


@pytest.mark.parametrize(
    "field, value",
    [
        ("edition_id", "x" * 151),
        ("edition_id", "matinale\x00"),
        ("edition_id", 42),
        ("email", "a" * 310 + "@example.com"),
        ("email", "vic\x00tim@example.com"),
        ("email", "\ud800@example.com"),
        ("email", ["victim@example.com"]),
    ],
)
def test_unstorable_values_get_400(client, webhook_key, web_db, field, value):
    """Attack: values PostgreSQL refuses (NUL, lone surrogates, too long: were 500s) or of the
    wrong type, in a bounce that would suppress an address."""
    bounce = dict(event(1), event="bounce", **{field: value})
    response = post(client, webhook_key, bounce)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(f"Event 1: {field}")
    assert stored_events(web_db) == 0


def test_overlong_event_ids_do_not_collide(client, webhook_key, web_db):
    """Attack: two events whose sg_event_id share their first 100 characters (the column's
    length). Cut to fit, the second was taken for a retry of the first and dropped."""
    prefix = "e" * 100
    first, second = event(sg_event_id=prefix + "-first"), event(sg_event_id=prefix + "-second")
    assert post(client, webhook_key, first, second).json() == {"received": 2, "new": 2}
    # ...while a real retry of an overlong id is still recognised.
    assert post(client, webhook_key, second).json() == {"received": 1, "new": 0}
    with web_db.read() as conn:
        keys = set(conn.execute(select(t.events.c.sg_event_id)).scalars())
    assert all(k.startswith("sha256:") and len(k) == 71 for k in keys) and len(keys) == 2


def test_event_ids_shaped_like_a_hash_or_with_nul_do_not_collide(client, webhook_key, web_db):
    """Attack: an id with a NUL (PostgreSQL refuses it) and an id that imitates our stored
    hash form, to pass for an event already stored."""
    from digest.store.events import stored_event_id

    long_id = "z" * 150
    imitation = stored_event_id(long_id)
    events = [
        event(sg_event_id=long_id),
        event(sg_event_id=imitation),
        event(sg_event_id="nul\x00id"),
        event(sg_event_id="\ud800"),
    ]
    assert post(client, webhook_key, *events).json() == {"received": 4, "new": 4}
    assert edition_counts(web_db, "matinale-2025-07-01") == {"delivered": 4}


@pytest.mark.parametrize("offset, words", [(-3600, "too old"), (+3600, "too new")])
def test_stale_timestamps_say_so(client, webhook_key, web_db, offset, words):
    """Attack: a captured post replayed an hour later (or a clock an hour ahead). The answer
    names the timestamp, not the signature, which is valid."""
    stamp = str(int(time.time()) + offset)
    response = post(client, webhook_key, event(1), timestamp=stamp)
    assert response.status_code == 403
    assert words in response.json()["error"] and "signature" not in response.json()["error"]
    assert stored_events(web_db) == 0


def test_a_timestamp_that_is_not_a_number(client, webhook_key):
    """Attack: a timestamp header that is no number (or one with 5,000 digits)."""
    for stamp in ("yesterday", "9" * 5000):
        body = events_body(event(1))
        headers = dict(sign(webhook_key, body), **{"X-Twilio-Email-Event-Webhook-Timestamp": stamp})
        response = client.post(HOOK, content=body, headers=headers)
        assert response.status_code == 403
        assert response.json() == {"error": "The timestamp is not a number of seconds."}


def test_many_small_events_within_the_limit_are_answered(client, webhook_key, web_db):
    """Control: a big but lawful batch (ignored kinds) near the limit is accepted in full."""
    ignored = {"event": "processed", "sg_event_id": "p"}
    count = (MAX_BODY - 1000) // len(json.dumps(ignored).encode() + b", ")
    response = post(client, webhook_key, *[ignored] * count)
    assert response.status_code == 200 and response.json() == {"received": count, "new": 0}
