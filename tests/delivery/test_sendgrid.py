"""The SendGrid backend through the real ``sendgrid`` library, over HTTP, to a loopback server
that checks every request against SendGrid's official schema and documented limits."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
import urllib.request
from collections import Counter
from datetime import datetime

import pytest
from sendgrid import SendGridAPIClient

from digest.config import SendGridConfig, load_config
from digest.delivery.job import RecipientFactory, make_job
from digest.delivery.message import list_unsubscribe
from digest.delivery.sendgrid import (
    MAX_BATCH,
    SendGridBackend,
    build_request,
    categories,
)
from digest.edition.build import build_edition
from digest.errors import (
    DeliveryAuthError,
    DeliveryRefused,
    DeliveryTooLarge,
    DeliveryTransient,
    DeliveryUncertain,
)
from digest.models import Subscriber
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer, check_request

KEY = "SG.unit-test-key.5ecret-value-that-must-not-leak"
SIGNER = TokenSigner("k" * 40)
TRICKY = ['Amina "la" <Benali> & Cie', "Omar; Ltd, Inc", "أمينة بنعلي", "Line\nBreak", ""]


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "digest.toml", env={})


@pytest.fixture(scope="module")
def job(config):
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    return make_job(config, built.edition, built.rendered)


@pytest.fixture(scope="module")
def make_batch(config, job):
    factory = RecipientFactory(config, job, SIGNER)

    def make(n, start=0, emails=None):
        out = []
        for i in range(start, start + n):
            email = emails[i - start] if emails else f"reader{i}@example.com"
            sub = Subscriber(id=i + 1, email=email, name=TRICKY[i % len(TRICKY)] or "")
            out.append(dataclasses.replace(factory(sub), delivery_id=10_000 + i))
        return out

    return make


@pytest.fixture(scope="module")
def server():
    with SendGridServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh(request):
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").clear()


def sg_config(server, **over):
    base = dict(api_host=server.url, api_key=KEY, timeout=5.0)
    base.update(over)
    return SendGridConfig(**base)


def backend(server, **over):
    clock = over.pop("clock", time.time)
    return SendGridBackend(sg_config(server, **over), clock=clock)


# -- the request ---------------------------------------------------------------------------


def test_a_batch_of_1000_is_one_valid_request_in_batch_order(server, job, make_batch):
    batch = make_batch(1000)
    outcomes = backend(server).send_batch(job, batch)

    assert server.violations == []
    assert len(server.requests) == 1 and server.attempts == 1
    body = server.requests[0]
    assert [p["to"][0]["email"] for p in body["personalizations"]] == [
        r.subscriber.email for r in batch
    ]
    assert Counter(server.delivered_addresses()) == Counter(r.subscriber.email for r in batch)
    (message_id,) = server.message_ids
    assert sorted(o.subscriber_id for o in outcomes) == [r.subscriber.id for r in batch]
    assert {(o.status, o.detail) for o in outcomes} == {("sent", message_id)}


def test_content_keeps_tokens_and_substitutions_reproduce_fill(server, job, make_batch):
    batch = make_batch(200)
    backend(server).send_batch(job, batch)
    body = server.requests[0]

    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    text, html = (c["value"] for c in body["content"])
    # Rendered once, not filled: the greeting tokens are there as rendered; the links are their
    # fixed prefix and one shared token (sendgrid_subs.py).
    assert job.rendered.tokens["html"]["greeting"] in html
    assert job.rendered.tokens["text"]["greeting"] in text  # names that need escaping: split
    assert f"{job.rendered.tokens['html']['greeting']}" not in text
    assert len(html) < len(job.rendered.html) + 2_000 and len(text) < len(job.rendered.text) + 2_000
    assert body["subject"] == job.rendered.subject

    for recipient, p in zip(batch, body["personalizations"], strict=True):
        got_html, got_text = html, text
        for token, value in p["substitutions"].items():  # what SendGrid does: plain replace
            got_html, got_text = got_html.replace(token, value), got_text.replace(token, value)
        assert (got_html, got_text) == job.personalizer.fill(recipient.values)
    # The proof means something: the names that need escaping are in there, escaped once.
    amina = body["personalizations"][0]["substitutions"]
    assert "Bonjour Amina &quot;la&quot; &lt;Benali&gt; &amp; Cie," in amina.values()
    assert 'Bonjour Amina "la" <Benali> & Cie,' in amina.values()


def test_each_personalization_carries_its_own_signed_unsubscribe_headers(
    server, job, config, make_batch
):
    batch = make_batch(50)
    backend(server).send_batch(job, batch)
    body = server.requests[0]

    assert body["headers"] == {"List-Id": job.list_id}
    tokens = set()
    for recipient, p in zip(batch, body["personalizations"], strict=True):
        url = recipient.values["unsubscribe_url"]
        assert p["headers"] == {
            "List-Unsubscribe": list_unsubscribe(url, job.unsubscribe_mailto),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert p["headers"]["List-Unsubscribe"].startswith(f"<{url}>, <mailto:desabonnement@")
        token = url.rsplit("/", 1)[-1]
        assert SIGNER.read(token) == (recipient.subscriber.id, "matinale")
        tokens.add(token)
    assert len(tokens) == len(batch)


def test_unsafe_unsubscribe_url_goes_through_list_unsubscribe(job, make_batch):
    (recipient,) = make_batch(1)
    odd = dict(recipient.values, unsubscribe_url="https://x.example/u/a b<c>,d")
    body, _ = build_request(job, [dataclasses.replace(recipient, values=odd)], SendGridConfig())
    value = body["personalizations"][0]["headers"]["List-Unsubscribe"]
    assert value == list_unsubscribe(odd["unsubscribe_url"], job.unsubscribe_mailto)
    assert value.startswith("<https://x.example/u/abcd>")


def test_custom_args_carry_ids_only_and_categories_group_the_send(server, job, make_batch):
    batch = make_batch(20)
    backend(server).send_batch(job, batch)
    body = server.requests[0]

    assert body["custom_args"] == {"edition_id": job.edition.id, "list": "matinale"}
    assert [p["custom_args"] for p in body["personalizations"]] == [
        {"delivery_id": str(r.delivery_id)} for r in batch
    ]
    assert body["categories"] == ["matinale", job.edition.id]
    exposed = json.dumps(
        [
            body["custom_args"],
            body["categories"],
            [p["custom_args"] for p in body["personalizations"]],
        ]
    )
    for r in batch:
        assert r.subscriber.email not in exposed and "reader" not in exposed
    assert "from" in body and body["from"]["email"] == "matinale@example.ma"
    assert "asm" not in body and "mail_settings" not in body and "reply_to" not in body


def test_no_delivery_id_means_no_personal_custom_args(job, make_batch):
    batch = [dataclasses.replace(r, delivery_id=None) for r in make_batch(2)]
    body, _ = build_request(job, batch, SendGridConfig())
    assert all("custom_args" not in p for p in body["personalizations"])


def test_categories_are_unique_capped_and_short(server, job, make_batch):
    extra = ("matinale", "x" * 300, *(f"c{i}" for i in range(12)))
    cats = categories(job, SendGridConfig(categories=extra))
    assert cats[:3] == ["matinale", job.edition.id, "x" * 255]
    assert len(cats) == 10 and len(set(cats)) == 10
    backend(server, categories=extra).send_batch(job, make_batch(3))
    assert server.violations == [] and server.requests[0]["categories"] == cats


def test_names_are_one_line_without_separators_and_omitted_when_empty(server, job, make_batch):
    batch = make_batch(5)  # one of each TRICKY name
    backend(server).send_batch(job, batch)
    to = [p["to"][0] for p in server.requests[0]["personalizations"]]
    assert [t.get("name") for t in to] == [
        'Amina "la" <Benali> & Cie',
        "Omar Ltd Inc",
        "أمينة بنعلي",
        "Line Break",
        None,
    ]
    assert "name" not in to[4]
    assert server.violations == []


def test_reply_to_asm_group_and_from_name(job, make_batch):
    body, _ = build_request(
        dataclasses.replace(job, reply_to="redaction@example.ma"),
        make_batch(1),
        SendGridConfig(asm_group_id=4242),
    )
    assert body["reply_to"] == {"email": "redaction@example.ma"}
    assert body["asm"] == {"group_id": 4242}
    assert body["from"] == {"email": "matinale@example.ma", "name": "L'Écho de Casablanca"}
    assert check_request(body) == []


# -- recipients left out -------------------------------------------------------------------


def test_duplicate_address_in_a_batch_is_retried_later_not_sent_twice(server, job, make_batch):
    emails = ["amina@example.com", "omar@example.com", "AMINA@Example.com", "omar@example.com"]
    batch = make_batch(4, emails=emails)
    outcomes = {o.subscriber_id: o for o in backend(server).send_batch(job, batch)}

    assert server.violations == []
    assert server.delivered_addresses() == ["amina@example.com", "omar@example.com"]
    assert [outcomes[r.subscriber.id].status for r in batch] == ["sent", "sent", "retry", "retry"]


def test_oversized_substitutions_fail_that_recipient_only(server, job, make_batch):
    batch = make_batch(3)
    huge = dict(batch[1].values, greeting="Bonjour " + "é" * 6000 + ",")
    batch[1] = dataclasses.replace(batch[1], values=huge)
    outcomes = {o.subscriber_id: o for o in backend(server).send_batch(job, batch)}

    assert outcomes[batch[1].subscriber.id].status == "failed"
    assert "10,000-byte" in outcomes[batch[1].subscriber.id].detail
    assert [outcomes[r.subscriber.id].status for r in (batch[0], batch[2])] == ["sent", "sent"]
    assert len(server.requests[0]["personalizations"]) == 2 and server.violations == []


def test_substitutions_are_measured_as_utf8_not_as_their_escapes(server, job, make_batch):
    # 3,000 "é" are 6,000 bytes of UTF-8 JSON but 18,000 as \u escapes (what is posted): the
    # escaped size only tells when to measure exactly; the limit is SendGrid's.
    batch = make_batch(2)
    near = dict(batch[0].values, greeting="Bonjour " + "é" * 3000 + ",")
    batch[0] = dataclasses.replace(batch[0], values=near)
    outcomes = backend(server).send_batch(job, batch)
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert server.violations == []


@pytest.mark.parametrize("one_odd_link", [False, True])
def test_the_prepared_request_is_the_built_one(job, make_batch, one_odd_link):
    """What is posted (each personalization written as JSON text) parses to exactly the body
    build_request gives, for names that need escaping, a lone surrogate and no ledger row;
    with the links as one token, or (one reader's link of another shape) every token."""
    batch = make_batch(12)
    if one_odd_link:
        odd = dict(batch[7].values, unsubscribe_url="https://x.example/u/a b<c>,d")
        batch[7] = dataclasses.replace(batch[7], values=odd)
    batch[3] = dataclasses.replace(
        batch[3], subscriber=dataclasses.replace(batch[3].subscriber, name="Bad \udc80 name")
    )
    batch[5] = dataclasses.replace(batch[5], delivery_id=None)
    be = SendGridBackend(SendGridConfig(api_host="http://127.0.0.1:9", api_key=KEY))
    prepared = be.prepare(job, batch)
    built, skipped = build_request(job, batch, SendGridConfig())
    assert prepared.outcomes == tuple(skipped) and len(prepared.included) == 12
    posted = str(prepared.data)
    assert posted.isascii()
    link = re.compile(r"__dg[0-9a-f]{16}k_link__")  # one random token per send
    theirs = set(link.findall(posted))
    assert len(theirs) == (0 if one_odd_link else 1)
    built_json = link.sub(theirs.pop(), json.dumps(built)) if theirs else json.dumps(built)
    assert json.loads(posted) == json.loads(built_json)
    assert "delivery_id" not in json.dumps(json.loads(posted)["personalizations"][5])


def test_a_broken_address_fails_alone_instead_of_failing_the_request(server, job, make_batch):
    batch = make_batch(3, emails=["ok@example.com", "not an address", "fine@example.org"])
    outcomes = {o.subscriber_id: o.status for o in backend(server).send_batch(job, batch)}
    assert list(outcomes.values()).count("failed") == 1
    assert outcomes[batch[1].subscriber.id] == "failed"
    assert server.delivered_addresses() == ["ok@example.com", "fine@example.org"]


def test_a_non_ascii_local_part_goes_to_sendgrid_as_it_is(server, job, make_batch):
    # SendGrid takes UTF-8 recipient addresses (not the From address): README, "SendGrid".
    batch = make_batch(2, emails=["dédé@exemple.fr", "ok@example.com"])
    outcomes = backend(server).send_batch(job, batch)
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert server.violations == []
    assert server.delivered_addresses() == ["dédé@exemple.fr", "ok@example.com"]


def test_a_duplicate_is_retried_and_an_empty_batch_posts_nothing(server, job, make_batch):
    first = make_batch(1, emails=["a@example.com"])
    again = make_batch(1, start=5, emails=["A@example.com"])
    outcomes = backend(server).send_batch(job, [first[0], again[0]])
    assert [o.status for o in outcomes] == ["retry", "sent"]
    assert backend(server).send_batch(job, []) == [] and server.attempts == 1


def test_more_than_max_batch_is_a_programming_error(job, make_batch):
    assert SendGridBackend.max_batch == MAX_BATCH == 1000
    with pytest.raises(ValueError):
        build_request(job, make_batch(1001), SendGridConfig())


def test_non_ascii_from_address_is_refused_before_posting(job, make_batch):
    with pytest.raises(DeliveryRefused, match="non-ASCII From"):
        build_request(
            dataclasses.replace(job, from_email="matinale@écho.ma"), make_batch(1), SendGridConfig()
        )


# -- answers -------------------------------------------------------------------------------


def test_sandbox_mode_answers_200_and_counts_as_sent(server, job, make_batch):
    outcomes = backend(server, sandbox=True).send_batch(job, make_batch(3))
    assert server.requests[0]["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert server.answers[0][0] == 200
    assert {o.status for o in outcomes} == {"sent"} and outcomes[0].detail


def test_400_is_refused_with_the_providers_message(server, job, make_batch):
    server.script(["400"])
    with pytest.raises(DeliveryRefused) as info:
        backend(server).send_batch(job, make_batch(2))
    exc = info.value
    assert type(exc) is DeliveryRefused
    assert (exc.backend, exc.status) == ("sendgrid", 400)
    assert "does not match a verified Sender Identity" in exc.detail
    assert "(field: from)" in exc.detail and exc.detail in str(exc)


@pytest.mark.parametrize("kind", ["401", "403", "wrong-key"])
def test_refused_key_is_an_auth_error_that_never_shows_the_key(server, job, make_batch, kind):
    if kind == "wrong-key":
        be = SendGridBackend(sg_config(server, api_key=KEY + "-revoked"))
        status = 401
    else:
        server.script([kind])
        be, status = backend(server), int(kind)
    with pytest.raises(DeliveryAuthError) as info:
        be.send_batch(job, make_batch(2))
    exc = info.value
    assert exc.status == status and "SENDGRID_API_KEY" in str(exc)
    assert str(exc).startswith(f"SendGrid refused the API key ({status})")
    for text in (
        str(exc),
        repr(exc),
        exc.detail,
        repr(exc.__cause__),
        repr(be.info),
        repr(be.config),
    ):
        assert "5ecret" not in text and KEY not in text


def test_missing_key_says_to_set_it_and_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.from-the-environment")
    with pytest.raises(DeliveryAuthError, match="set SENDGRID_API_KEY"):
        SendGridBackend(SendGridConfig(api_key=None))


def test_413_is_too_large(server, job, make_batch):
    server.script(["413"])
    with pytest.raises(DeliveryTooLarge) as info:
        backend(server).send_batch(job, make_batch(2))
    assert info.value.status == 413 and "too large" in info.value.detail


def test_429_waits_as_long_as_retry_after_says(server, job, make_batch):
    server.script(["429:7"])
    with pytest.raises(DeliveryTransient) as info:
        backend(server).send_batch(job, make_batch(2))
    assert (info.value.status, info.value.retry_after) == (429, 7.0)
    assert "too many requests" in info.value.detail
    assert backend(server).send_batch(job, make_batch(1))[0].status == "sent"  # then "ok"


@pytest.mark.parametrize("now_offset, expected", [(-42, 42.0), (100, 0.0)])
def test_429_without_retry_after_uses_the_rate_limit_reset(job, make_batch, now_offset, expected):
    reset = 1_900_000_000
    with SendGridServer(api_key=KEY, ratelimit_reset=reset) as srv:
        srv.script(["429-reset"])
        be = backend(srv, clock=lambda: reset + now_offset)
        with pytest.raises(DeliveryTransient) as info:
            be.send_batch(job, make_batch(2))
    assert info.value.retry_after == expected


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_errors_are_transient(server, job, make_batch, kind):
    server.script([kind])
    with pytest.raises(DeliveryTransient) as info:
        backend(server).send_batch(job, make_batch(2))
    assert info.value.status == int(kind) and info.value.retry_after is None
    assert info.value.detail  # JSON errors or the proxy's HTML page, one line
    assert "\n" not in info.value.detail


def test_a_hanging_server_is_uncertain_within_the_timeout(server, job, make_batch):
    # The body was sent: SendGrid may have accepted it, so it is not retried blindly.
    server.script(["hang:5"])
    started = time.monotonic()
    with pytest.raises(DeliveryUncertain, match="did not answer within 0.5 s"):
        backend(server, timeout=0.5).send_batch(job, make_batch(2))
    assert time.monotonic() - started < 2.0
    # The hanging connection does not hold up the next request.
    assert backend(server).send_batch(job, make_batch(1))[0].status == "sent"


def test_a_dropped_connection_after_the_body_is_uncertain(server, job, make_batch):
    server.script(["drop"])
    with pytest.raises(DeliveryUncertain, match="closed the connection"):
        backend(server).send_batch(job, make_batch(2))
    assert server.requests == []


def test_drop_after_accept_is_uncertain_as_it_arrived(server, job, make_batch):
    server.script(["drop-after-accept"])
    batch = make_batch(2)
    with pytest.raises(DeliveryUncertain, match="may or may not have been accepted"):
        backend(server).send_batch(job, batch)
    assert server.delivered_addresses() == [r.subscriber.email for r in batch]


def test_nobody_listening_is_transient(job, make_batch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    be = SendGridBackend(
        SendGridConfig(api_host=f"http://127.0.0.1:{port}", api_key=KEY, timeout=1)
    )
    with pytest.raises(DeliveryTransient, match="could not reach SendGrid"):
        be.send_batch(job, make_batch(1))


# -- hosts ---------------------------------------------------------------------------------


def test_a_host_with_a_trailing_slash_reaches_the_server(server, job, make_batch):
    be = backend(server, api_host=server.url + "/")
    assert be.info.destination == f"{server.url}/v3/mail/send"
    assert be.send_batch(job, make_batch(1))[0].status == "sent"
    assert server.answers == [(202, server.message_ids[0])]


def test_eu_host_is_where_the_library_posts():
    be = SendGridBackend(
        SendGridConfig(api_host="https://api.eu.sendgrid.com", api_key=KEY, timeout=3)
    )
    assert be.info.destination == "https://api.eu.sendgrid.com/v3/mail/send"
    assert be._sg.client.mail.send._build_url(None) == be.info.destination
    assert be._sg.client.timeout == 3


def test_a_given_client_gets_the_timeout(server, job, make_batch):
    client = SendGridAPIClient(KEY, host=server.url)
    be = SendGridBackend(sg_config(server, timeout=2.5), client=client)
    assert client.client.timeout == 2.5
    assert be.send_batch(job, make_batch(1))[0].status == "sent"


# -- the server itself: it must catch what SendGrid would refuse ---------------------------


def _valid(job, make_batch, n=3):
    body, _ = build_request(job, make_batch(n), SendGridConfig())
    return json.loads(json.dumps(body))


def _break(body, how):
    ps = body["personalizations"]
    if how == "html-first":
        body["content"].reverse()
    elif how == "duplicate-across-personalizations":
        ps[2]["to"][0]["email"] = ps[0]["to"][0]["email"].upper()
    elif how == "forbidden-header":
        ps[1]["headers"]["Reply-To"] = "x@example.com"
    elif how == "header-line-break":
        body["headers"]["List-Id"] = "a\r\nBcc: x@example.com"
    elif how == "comma-in-name":
        ps[0]["to"][0]["name"] = "Omar, Ltd"
    elif how == "substitutions-too-big":
        ps[2]["substitutions"]["-big-"] = "é" * 5001
    elif how == "custom-args-too-big":
        ps[2]["custom_args"] = {"x": "y" * 10_001}
    elif how == "custom-args-not-strings":
        ps[1]["custom_args"] = {"delivery_id": 7}
    elif how == "eleven-categories":
        body["categories"] = [f"c{i}" for i in range(11)]
    elif how == "long-category":
        body["categories"] = ["x" * 256]
    elif how == "unicode-from":
        body["from"]["email"] = "matinale@écho.ma"
    elif how == "too-many-personalizations":
        body["personalizations"] = [{"to": [{"email": f"r{i}@example.com"}]} for i in range(1001)]
    elif how == "too-many-recipients":
        ps[0]["to"] = [{"email": f"r{i}@example.com"} for i in range(999)]
        ps[1]["to"].append({"email": "extra@example.com"})
    elif how == "late-personalization-malformed":  # beyond the two the schema sees
        ps[2]["to"] = []
    elif how == "no-from":
        del body["from"]
    elif how == "custom-args-string":
        body["custom_args"] = "edition"
    return body


BREAKS = [
    "html-first",
    "duplicate-across-personalizations",
    "forbidden-header",
    "header-line-break",
    "comma-in-name",
    "substitutions-too-big",
    "custom-args-too-big",
    "custom-args-not-strings",
    "eleven-categories",
    "long-category",
    "unicode-from",
    "too-many-personalizations",
    "too-many-recipients",
    "late-personalization-malformed",
    "no-from",
    "custom-args-string",
]


@pytest.mark.parametrize("how", BREAKS)
def test_the_server_refuses_what_sendgrid_would(server, job, make_batch, how):
    body = _break(_valid(job, make_batch), how)
    assert check_request(_valid(job, make_batch)) == []
    request = urllib.request.Request(
        f"{server.url}/v3/mail/send",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400
    errors = json.loads(info.value.read())["errors"]
    assert errors and all(set(e) == {"message", "field", "help"} for e in errors)
    assert len(server.violations) == 1 and server.requests == []


def test_the_server_answers_with_rate_limit_headers_and_needs_the_key(server, job, make_batch):
    body = json.dumps(_valid(job, make_batch)).encode()
    for auth, code in ((f"Bearer {KEY}", 202), ("Bearer nope", 401), (None, 401)):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = auth
        request = urllib.request.Request(
            f"{server.url}/v3/mail/send", data=body, headers=headers, method="POST"
        )
        try:
            response = urllib.request.urlopen(request, timeout=5)
        except urllib.error.HTTPError as exc:
            response = exc
        assert response.status == code
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert response.headers[name].isdigit()
    assert server.violations == [] and len(server.requests) == 1


def test_script_rejects_unknown_kinds(server):
    with pytest.raises(ValueError, match="unknown script kind"):
        server.script(["ok", "418"])


def test_twenty_full_batches_go_through_exactly_once(job, make_batch):
    batches = [make_batch(MAX_BATCH, start=i * MAX_BATCH) for i in range(20)]
    with SendGridServer(api_key=KEY, keep_bodies=False) as srv:
        srv.script(["429", "500", "503"])
        be = backend(srv, timeout=5)
        sent = 0
        for batch in batches:
            for _ in range(4):  # what the send loop does, minus the waiting
                try:
                    sent += sum(o.status == "sent" for o in be.send_batch(job, batch))
                    break
                except DeliveryTransient:
                    continue
    assert sent == 20 * MAX_BATCH and srv.violations == []
    assert Counter(srv.delivered_addresses()).most_common(1)[0][1] == 1
    assert len(srv.delivered_addresses()) == 20 * MAX_BATCH


def test_an_error_body_that_echoes_the_key_is_redacted(server):
    be = backend(server)
    body = json.dumps({"errors": [{"message": f"bad key {KEY}\nsee docs", "field": None}]})
    assert be._detail(body.encode()) == "bad key [redacted] see docs"
    assert (
        be._detail(b"<html>\n<h1>Bad gateway</h1></html>") == "<html> <h1>Bad gateway</h1></html>"
    )
