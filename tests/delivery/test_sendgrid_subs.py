"""Each value once per personalization, and a body the library never formats: through the real
``sendgrid`` library to the loopback server that checks SendGrid's schema and limits."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import pytest

from digest.config import SendGridConfig, load_config
from digest.delivery.job import RecipientFactory, make_job
from digest.delivery.sendgrid import SendGridBackend, build_request
from digest.delivery.sendgrid_subs import JsonBody, Substitutions
from digest.edition.build import build_edition
from digest.models import Subscriber
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer, check_request

KEY = "SG.subs-test-key"


@pytest.fixture(scope="module")
def job():
    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    return config, make_job(config, built.edition, built.rendered)


def recipients(job, names):
    config, job = job
    make = RecipientFactory(config, job, TokenSigner("s" * 40))
    return [
        dataclasses.replace(
            make(Subscriber(id=i + 1, email=f"r{i}@example.com", name=n)), delivery_id=100 + i
        )
        for i, n in enumerate(names)
    ]


def filled(body, p):
    """What SendGrid does with substitutions: plain replacement over each part."""
    text, html = (c["value"] for c in body["content"])
    for token, value in p["substitutions"].items():
        text, html = text.replace(token, value), html.replace(token, value)
    return html, text


def test_plain_names_carry_each_value_once_and_fill_exactly(job):
    batch = recipients(job, ["Amina", "Omar", "", "Léa"] * 50)
    body, skipped = build_request(job[1], batch, SendGridConfig())
    assert skipped == [] and check_request(body) == []
    for recipient, p in zip(batch, body["personalizations"], strict=True):
        assert filled(body, p) == job[1].personalizer.fill(recipient.values)
        values = list(p["substitutions"].values())
        token = recipient.values["unsubscribe_url"].rsplit("/", 1)[1]
        assert sorted(values) == sorted([token, recipient.values["greeting"]])  # once each
        assert not any(recipient.values["unsubscribe_url"] in v for v in values)


def test_one_name_that_needs_escaping_splits_the_greeting_for_its_batch_only(job):
    batch = recipients(job, ["Amina", 'Omar & "Cie"', "Léa"])
    body, _ = build_request(job[1], batch, SendGridConfig())
    for recipient, p in zip(batch, body["personalizations"], strict=True):
        assert filled(body, p) == job[1].personalizer.fill(recipient.values)
        assert len(p["substitutions"]) == 3  # link token, HTML greeting, text greeting
    assert (
        "Bonjour Omar &amp; &quot;Cie&quot;,"
        in body["personalizations"][1]["substitutions"].values()
    )


@pytest.mark.parametrize("odd", ["https://elsewhere.example/u/", "x", "https://w.example/u/a&b"])
def test_links_of_another_shape_fall_back_to_every_token(job, odd):
    batch = recipients(job, ["Amina", "Omar"])
    values = dict(batch[1].values)
    values["unsubscribe_url"] = (
        odd + values["unsubscribe_url"].rsplit("/", 1)[1] if odd.endswith("/") else odd
    )
    batch[1] = dataclasses.replace(batch[1], values=values)
    body, _ = build_request(job[1], batch, SendGridConfig())
    for recipient, p in zip(batch, body["personalizations"], strict=True):
        assert filled(body, p) == job[1].personalizer.fill(recipient.values)
        assert recipient.values["unsubscribe_url"] in p["substitutions"].values()  # whole links


@pytest.mark.parametrize("segment", ["a+b", "a%2Fb", "caf\u00e9", "a b"])
def test_a_token_of_other_characters_falls_back_to_every_token(job, segment):
    """Only URL-unreserved tokens go as one token (written into JSON, HTML, a header and a URL
    unescaped); the same links with any other last segment take the plain form."""
    batch = recipients(job, ["Amina", "Omar"])
    values = dict(batch[1].values)
    for key in ("unsubscribe_url", "preferences_url"):
        values[key] = values[key].rsplit("/", 1)[0] + "/" + segment
    batch[1] = dataclasses.replace(batch[1], values=values)
    body, _ = build_request(job[1], batch, SendGridConfig())
    for recipient, p in zip(batch, body["personalizations"], strict=True):
        assert filled(body, p) == job[1].personalizer.fill(recipient.values)
        assert recipient.values["unsubscribe_url"] in p["substitutions"].values()  # whole links


def test_contents_are_made_once_per_form_and_the_link_token_is_fresh(job):
    subs = Substitutions(job[1])
    first = subs.rows([r.values for r in recipients(job, ["Amina"])]).content
    again = subs.rows([r.values for r in recipients(job, ["Omar", "Léa"])]).content
    assert first is again and subs.link in first[1] and subs.link not in job[1].rendered.html
    assert Substitutions(job[1]).link != subs.link


def test_the_library_never_formats_the_body_even_with_debug_logging(job, caplog):
    batch = recipients(job, ["Amina"] * 300)
    with SendGridServer(api_key=KEY) as server:
        backend = SendGridBackend(SendGridConfig(api_host=server.url, api_key=KEY, timeout=5))
        with caplog.at_level(logging.DEBUG, logger="python_http_client"):
            outcomes = backend.send_batch(job[1], batch)
        assert server.violations == [] and {o.status for o in outcomes} == {"sent"}
        assert len(server.requests[0]["personalizations"]) == 300
    payload = [r.getMessage() for r in caplog.records if r.getMessage().startswith("PAYLOAD")]
    assert len(payload) == 1 and "bytes of JSON>" in payload[0] and len(payload[0]) < 60
    assert KEY not in "".join(r.getMessage() for r in caplog.records if "PAYLOAD" in r.getMessage())


def test_a_name_no_utf_8_can_carry_still_makes_a_valid_request(job):
    batch = recipients(job, ["Amina", "Lone \udcff surrogate"])
    with SendGridServer(api_key=KEY) as server:
        backend = SendGridBackend(SendGridConfig(api_host=server.url, api_key=KEY, timeout=5))
        outcomes = backend.send_batch(job[1], batch)
        assert server.violations == [] and [o.status for o in outcomes] == ["sent", "sent"]


def test_json_body_encodes_to_the_same_bytes():
    body = JsonBody('{"a":"é"}')
    data = body.encode("utf-8")
    assert bytes(data) == '{"a":"é"}'.encode() and isinstance(data, bytes)
    assert f"{data}" == "<10 bytes of JSON>" and str(data) == "<10 bytes of JSON>"
