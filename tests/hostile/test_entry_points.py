"""Addresses carrying an encoded word are refused where they enter, with a clear reason, and
again where they would be written (SMTP envelope, SendGrid request, build_message).

Before this was fixed, ``=?utf-8?b?...?=@example.com`` passed email_validator, and the signup
confirmation (no login needed) went out with the attacker's ``Bcc:`` and body.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from email import message_from_bytes
from email.policy import default

import pytest

from digest.config import SendGridConfig, SmtpConfig
from digest.delivery.message import build_message
from digest.delivery.sendgrid import SendGridBackend
from digest.delivery.smtp import SmtpBackend
from digest.errors import DeliveryRefused
from digest.models import Subscriber
from digest.store.csvio import read_subscriber_csv
from digest.store.subscribers import import_subscribers, list_members
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.smtp_server import SmtpTestServer
from tests.hostile.fixtures.header_values import HOSTILE_ADDRESSES, INJECTED
from tests.hostile.sources import Refused, config_with, editor_subject, recipient_for

ADDRESSES = [pytest.param(address, id=aid) for aid, address, _ in HOSTILE_ADDRESSES]


def outbox(config):
    return sorted((config.root / "web-outbox").glob("*.eml"))


@pytest.mark.parametrize("address", ADDRESSES)
def test_signup_refuses_an_encoded_word_address(client, web_config, web_db, address):
    """Attacks: the public signup form (no login), whose confirmation carried a Bcc."""
    page = client.post(
        "/signup",
        data={"csrf": client.csrf("/signup"), "email": address, "list": "matinale", "locale": "fr"},
    )
    assert page.status_code == 400
    assert "encoded word" in page.text
    assert outbox(web_config) == []  # no confirmation was sent anywhere


def test_signup_confirmation_of_a_plain_address_has_no_extra_header(client, web_config):
    """The control: the same form with a plain address sends exactly one clean message."""
    client.post(
        "/signup",
        data={
            "csrf": client.csrf("/signup"),
            "email": "nadia@example.net",
            "list": "matinale",
            "locale": "fr",
        },
    )
    [eml] = outbox(web_config)
    msg = message_from_bytes(eml.read_bytes(), policy=default)
    assert msg["Bcc"] is None and msg["To"] == "nadia@example.net"


@pytest.mark.parametrize("address", ADDRESSES)
def test_editor_test_send_refuses_an_encoded_word_address(editor, draft, web_config, address):
    """Attacks: the editor's test-send address field."""
    url = f"/editions/{draft.id}"
    response = editor.post(f"{url}/test", data={"csrf": editor.csrf(url), "address": address})
    page = editor.get(response.headers["location"]).text
    assert "Not sent" in page and "encoded word" in page
    assert outbox(web_config) == []


@pytest.mark.parametrize("address", ADDRESSES)
def test_csv_import_rejects_an_encoded_word_address(db, address):
    """Attacks: a subscriber CSV; the row is rejected with the reason, nothing is stored."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [["email", "name"], [address, "Mallory"], ["amina@example.org", "Amina"]]
    )
    result = read_subscriber_csv(buf.getvalue().encode("utf-8"))
    [rejected] = result.rejected
    assert "encoded word" in rejected.reason
    import_subscribers(db, "matinale", result)
    assert [m.email for m in list_members(db, "matinale")] == ["amina@example.org"]


@pytest.mark.parametrize("key", ["email", "reply_to", "unsubscribe_mailto"])
@pytest.mark.parametrize("address", ADDRESSES)
def test_config_sender_addresses_refuse_encoded_words(key, address):
    """Attacks: [sender] email, reply_to and unsubscribe_mailto in the config file."""
    with pytest.raises(Refused) as refused:
        config_with(**{f"sender__{key}": address})
    assert f"sender.{key}" in str(refused.value) and "encoded word" in str(refused.value)


# --- where addresses are written: an address stored before this check still cannot pass ------


def stored_before(address):
    job, _ = editor_subject("La matinale")
    return job, recipient_for(job, Subscriber(7, address, name="Mallory"))


@pytest.mark.parametrize("address", ADDRESSES)
def test_build_message_refuses_an_encoded_word_address(address):
    job, recipient = stored_before(address)
    with pytest.raises(ValueError, match="encoded word"):
        build_message(recipient.envelope(job), html="x", text="x")


@pytest.mark.parametrize("address", ADDRESSES)
def test_smtp_fails_that_recipient_alone_and_sends_nothing(address):
    """Attacks: RCPT TO and the To header, with an address already in the database."""
    job, bad = stored_before(address)
    good = recipient_for(job, Subscriber(8, "amina@example.org", name="Amina"))
    with (
        SmtpTestServer() as server,
        SmtpBackend(
            SmtpConfig(host=server.host, port=server.port, security="none", timeout=5)
        ) as backend,
    ):
        outcomes = backend.send_batch(job, [bad, good])
        assert [(o.subscriber_id, o.status) for o in outcomes] == [(7, "failed"), (8, "sent")]
        assert "encoded word" in outcomes[0].detail
        [got] = server.wait_for(1)
        assert got.rcpt_tos == ("amina@example.org",) and INJECTED.encode() not in got.data


def test_smtp_refuses_a_sender_with_a_line_break():
    """Attacks: MAIL FROM, written raw when the relay pipelines (a CR/LF is a new command)."""
    job, recipient = stored_before("amina@example.org")
    job = dataclasses.replace(job, from_email="a@example.ma>\r\nRCPT TO:<v@example.net")
    with (
        SmtpTestServer() as server,
        SmtpBackend(
            SmtpConfig(host=server.host, port=server.port, security="none", timeout=5)
        ) as backend,
    ):
        with pytest.raises(DeliveryRefused, match="sender"):
            backend.send_batch(job, [recipient])
        assert server.messages == []


@pytest.mark.parametrize("address", ADDRESSES)
def test_sendgrid_leaves_the_address_out_of_the_request(address):
    job, bad = stored_before(address)
    good = recipient_for(job, Subscriber(8, "amina@example.org", name="Amina"))
    with SendGridServer(api_key="SG.k") as server:
        backend = SendGridBackend(SendGridConfig(api_host=server.url, api_key="SG.k", timeout=5))
        outcomes = backend.send_batch(job, [bad, good])
        assert {o.subscriber_id: o.status for o in outcomes} == {7: "failed", 8: "sent"}
        [body] = server.requests
        assert [p["to"][0]["email"] for p in body["personalizations"]] == ["amina@example.org"]


def test_sendgrid_refuses_a_hostile_reply_to():
    job, recipient = stored_before("amina@example.org")
    job = dataclasses.replace(job, reply_to="=?utf-8?q?x=0D=0ABcc:_v@example.net?=@x.org")
    with SendGridServer(api_key="SG.k") as server:
        backend = SendGridBackend(SendGridConfig(api_host=server.url, api_key="SG.k", timeout=5))
        with pytest.raises(DeliveryRefused, match="reply_to"):
            backend.send_batch(job, [recipient])
        assert server.requests == []
