"""Every header source x every hostile value x every path that writes a header.

Sources (tests/hostile/sources.py): a feed headline under subject = "{top}", the subject
template, the editor's subject override, a CSV subscriber name, [sender] name, a list title.
Paths: ``build_message``, ``MessageTemplate`` (the spliced fast path), SMTP through aiosmtpd
(what the relay received), and SendGrid (the request the real library posted to the loopback
server, checked as JSON and as the MIME a provider would make of it).

Each message is re-parsed with ``email.policy.default``, whose header registry decodes encoded
words, and checked header by header: the same headers as a clean message and no other, no Bcc,
no decoded value with CR/LF/NUL, both bodies intact, the subject at most 200 characters.
"""

from __future__ import annotations

import dataclasses
from email import message_from_string
from email.policy import default

import pytest

from digest.config import SendGridConfig, SmtpConfig
from digest.delivery.message import build_message
from digest.delivery.mime_template import MessageTemplate
from digest.delivery.sendgrid import SendGridBackend
from digest.delivery.smtp import SmtpBackend
from digest.headers import SUBJECT_MAX, header_text
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.smtp_server import SmtpTestServer
from tests.hostile.fixtures.header_values import HEADER_VALUES, LEGITIMATE
from tests.hostile.mail import (
    BREAKS,
    BUILD_HEADERS,
    check_message,
    filled_bodies,
    json_strings,
    sendgrid_mime,
)
from tests.hostile.sources import SOURCES, Refused, recipient_for

KEY = "SG.hostile-headers-test"
VALUES = [pytest.param(value, id=vid) for vid, value, _ in HEADER_VALUES]


@pytest.fixture(scope="module")
def smtp_server():
    with SmtpTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def sendgrid_server():
    with SendGridServer(api_key=KEY) as server:
        yield server


def made(source, value):
    """(job, recipient), or None when the entry point refused the value with a reason, which
    is a right outcome too (a raw CR/LF in a CSV name or in [sender] name, a 100 kB title)."""
    try:
        job, subscriber = SOURCES[source](value)
    except Refused as exc:
        assert str(exc).strip(), "refused without a reason"
        return None
    return job, recipient_for(job, subscriber)


def check_subject(msg, job):
    assert msg["Subject"] == header_text(job.rendered.subject, SUBJECT_MAX)
    assert 0 < len(msg["Subject"]) <= SUBJECT_MAX


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("source", SOURCES)
def test_build_message(source, value):
    """build_message: the hostile value reaches no header as a line break or a new header."""
    if not (pair := made(source, value)):
        return
    job, recipient = pair
    env = recipient.envelope(job)
    html, text = job.personalizer.fill(recipient.values)
    msg = check_message(
        build_message(env, html=html, text=text).as_bytes(),
        headers=BUILD_HEADERS,
        html=html,
        text=text,
    )
    check_subject(msg, job)
    assert msg["To"].addresses[0].addr_spec == recipient.subscriber.email


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("source", SOURCES)
def test_mime_template(source, value):
    """The spliced MIME template: same guarantees, and the template really is used."""
    if not (pair := made(source, value)):
        return
    job, recipient = pair
    env = recipient.envelope(job)
    html, text = job.personalizer.fill(recipient.values)
    raw = MessageTemplate(env).render(env, html=html, text=text)
    assert raw is not None, "the template stepped aside: this path was not tested"
    msg = check_message(raw, headers=BUILD_HEADERS, html=html, text=text)
    check_subject(msg, job)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("source", SOURCES)
def test_smtp(smtp_server, source, value):
    """SMTP to aiosmtpd: what the relay received, envelope and message."""
    if not (pair := made(source, value)):
        return
    job, recipient = pair
    before = len(smtp_server.messages)
    backend = SmtpBackend(
        SmtpConfig(
            host=smtp_server.host,
            port=smtp_server.port,
            security="none",
            timeout=5,
            local_hostname="client.test",
        )
    )
    with backend:
        [outcome] = backend.send_batch(job, [recipient])
    assert outcome.status == "sent", outcome.detail
    got = smtp_server.wait_for(before + 1)[-1]
    assert got.mail_from == job.from_email and got.rcpt_tos == (recipient.subscriber.email,)
    html, text = job.personalizer.fill(recipient.values)
    msg = check_message(got.data, headers=BUILD_HEADERS, html=html, text=text)
    check_subject(msg, job)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("source", SOURCES)
def test_sendgrid(sendgrid_server, source, value):
    """SendGrid: the posted JSON holds no CR/LF/NUL or encoded word in any header field, and
    the MIME a provider builds from it (with the decoding registry) has no injected header."""
    if not (pair := made(source, value)):
        return
    job, recipient = pair
    sendgrid_server.clear()
    backend = SendGridBackend(SendGridConfig(api_host=sendgrid_server.url, api_key=KEY, timeout=5))
    [outcome] = backend.send_batch(job, [recipient])
    assert outcome.status == "sent", outcome.detail
    assert sendgrid_server.violations == []
    [body] = sendgrid_server.requests
    [p] = body["personalizations"]
    fields = [
        body["subject"],
        body["from"].get("name", ""),
        p["to"][0].get("name", ""),
        *json_strings(body["headers"]),
        *json_strings(p["headers"]),
        *body["categories"],
    ]
    for field in fields:
        assert not any(c in field for c in BREAKS), field[:120]
        assert "=?" not in field, field[:120]
    assert len(body["subject"]) <= SUBJECT_MAX
    html, text = filled_bodies(body, p)
    msg = check_message(
        sendgrid_mime(body, p),
        html=html,
        text=text,
        headers=(
            "From",
            "To",
            "Subject",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Content-Type",
        ),
    )
    check_subject(msg, job)


@pytest.mark.parametrize(
    ("value", "expected"), [pytest.param(v, e, id=i) for i, v, e in LEGITIMATE]
)
def test_legitimate_values_read_the_same_on_every_path(smtp_server, value, expected):
    """Not an attack: an encoded or non-ASCII name reads as itself in To on every path."""
    job, recipient = made("csv_name", value)
    env = recipient.envelope(job)
    html, text = job.personalizer.fill(recipient.values)
    slow = build_message(env, html=html, text=text).as_bytes()
    fast = MessageTemplate(env).render(env, html=html, text=text)
    for raw in (slow, fast):
        msg = check_message(raw, headers=BUILD_HEADERS, html=html, text=text)
        assert msg["To"].addresses[0].display_name == expected


UTF8_EMAIL = "dédé@exemple.fr"  # a non-ASCII local part: the message's headers are UTF-8


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("source", SOURCES)
def test_utf8_recipient_on_both_paths(source, value):
    """A recipient with a non-ASCII local part gets raw UTF-8 headers (RFC 6532) on both
    message paths: the same guarantees, and the address stays as it is, never an encoded word."""
    try:
        job, subscriber = SOURCES[source](value)
    except Refused:
        return
    recipient = recipient_for(job, dataclasses.replace(subscriber, email=UTF8_EMAIL))
    env = recipient.envelope(job)
    html, text = job.personalizer.fill(recipient.values)
    slow = build_message(env, html=html, text=text).as_bytes()
    fast = MessageTemplate(env).render(env, html=html, text=text)
    assert fast is not None, "the template stepped aside: this path was not tested"
    for raw in (slow, fast):
        check_message(raw, headers=BUILD_HEADERS, html=html, text=text)
        head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
        to = next(line for line in head.split(b"\r\n") if line.startswith(b"To:"))
        assert UTF8_EMAIL.encode() in to and b"=?" not in to
        msg = message_from_string(raw.decode("utf-8"), policy=default)
        assert msg["To"].addresses[0].addr_spec == UTF8_EMAIL
        check_subject(msg, job)
