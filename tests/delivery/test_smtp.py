"""SmtpBackend against a real SMTP server (aiosmtpd) on loopback, with the sample edition."""

import re
import socket
from dataclasses import replace
from datetime import datetime
from email import message_from_bytes, message_from_string
from email.policy import default

import pytest

from digest.config import SmtpConfig, load_config
from digest.delivery.job import RecipientFactory, make_job
from digest.delivery.message import build_message
from digest.delivery.mime_template import MessageTemplate, encode_body
from digest.delivery.smtp import SmtpBackend
from digest.edition.build import build_edition
from digest.errors import DeliveryAuthError, DeliveryRefused, DeliveryTransient
from digest.models import Subscriber
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW
from tests.delivery.smtp_server import SmtpTestServer, client_context, wait_until

USER, PASSWORD = "digest@example.ma", "s3cret-Pa55word-XYZ"
NAMES = [
    "Amina Benali",
    "أمينة بنعلي",
    'Benali, Amina "la chef"',
    "Hello\r\nBcc: evil@example.net",
    "Zoé " * 25,
    "",
]


@pytest.fixture(scope="module")
def sample():
    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    job = make_job(config, built.edition, built.rendered)
    return job, RecipientFactory(config, job, TokenSigner("k" * 40))


def recipients(sample, count, start=1):
    _, factory = sample
    return [
        factory(Subscriber(id=i, email=f"reader{i}@example.org", name=NAMES[i % len(NAMES)]))
        for i in range(start, start + count)
    ]


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request):
    """Every test that takes this server runs twice: with PIPELINING offered, and without."""
    with SmtpTestServer(pipelining=request.param) as srv:
        yield srv


def backend_for(srv, **over):
    settings = dict(
        host=srv.host, port=srv.port, security="none", timeout=5, local_hostname="client.test"
    )
    settings.update(over)
    tls = settings["security"] != "none"
    return SmtpBackend(SmtpConfig(**settings), ssl_context=client_context() if tls else None)


def send(srv, sample, batch, **over):
    job, _ = sample
    with backend_for(srv, **over) as backend:
        return backend.send_batch(job, batch)


def statuses(outcomes):
    return {o.subscriber_id: o.status for o in outcomes}


def closed_port():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


# --- what arrives --------------------------------------------------------------------------


def test_messages_arrive_intact(server, sample):
    job, _ = sample
    batch = recipients(sample, 3)  # names: Arabic; 'Benali, Amina "la chef"'; CR/LF injection
    outcomes = send(server, sample, batch)
    assert [o.status for o in outcomes] == ["sent"] * 3
    assert all(re.match(r"250 2\.0\.0 OK queued as T\d+", o.detail) for o in outcomes)
    received = server.wait_for(3)
    for recipient, got in zip(batch, received, strict=True):
        sub = recipient.subscriber
        assert got.mail_from == job.from_email == "matinale@example.ma"
        assert got.rcpt_tos == (sub.email,)
        head = got.data.split(b"\r\n\r\n", 1)[0]
        assert head.isascii() and b"\nBcc:" not in head
        msg = got.message()
        assert msg.get_content_type() == "multipart/alternative"
        text, html = msg.iter_parts()
        assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        assert text.get_content_charset() == html.get_content_charset() == "utf-8"
        [to] = msg["To"].addresses
        assert to.addr_spec == sub.email
        assert to.display_name == " ".join(sub.name.split())
        assert msg["From"].addresses[0].display_name == "L'Écho de Casablanca"
        assert msg["Subject"] == job.rendered.subject
        assert msg["Message-ID"] == recipient.message_id
        url = recipient.values["unsubscribe_url"]
        assert url.startswith("https://www.example.ma/digest/u/")
        assert msg["List-Unsubscribe"].startswith(f"<{url}>, <mailto:desabonnement@example.ma")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url in html.get_content() and url in text.get_content()
        assert recipient.values["greeting"] in text.get_content()
    # The raw name went through RFC 2047, not into the header as UTF-8.
    assert "أمينة" in received[0].message()["To"].addresses[0].display_name
    assert b"=?utf-8?" in received[0].data.split(b"\r\n\r\n", 1)[0]


def test_template_matches_build_message_header_for_header(sample):
    """The spliced message is build_message's, except the boundary and where QP breaks lines."""
    job, _ = sample
    batch = recipients(sample, len(NAMES))
    template = MessageTemplate(batch[0].envelope(job))

    def parts(raw):
        msg = message_from_bytes(raw, policy=default)
        return [
            (p.get_content_type(), p["Content-Transfer-Encoding"], p.get_content())
            for p in msg.iter_parts()
        ]

    def head(raw):
        return re.sub(rb'boundary="[^"]+"', b"", raw.split(b"\r\n\r\n", 1)[0])

    for recipient in batch:
        env = recipient.envelope(job)
        html, text = job.personalizer.fill(recipient.values)
        fast = template.render(env, html=html, text=text)
        slow = build_message(env, html=html, text=text).as_bytes()
        assert head(fast) == head(slow)
        assert parts(fast) == parts(slow)
    # A non-ASCII local part: the spliced To is UTF-8 (RFC 6532), as build_message writes it;
    # build_message also writes the other fields in UTF-8, the template keeps their RFC 2047
    # words: the same values once parsed.
    env = replace(batch[0].envelope(job), to_email="zoé@example.org")
    fast = template.render(env, html="x", text="y")
    slow = build_message(env, html="x", text="y").as_bytes()
    to = "To: أمينة بنعلي <zoé@example.org>\r\n".encode()
    assert to in fast and to in slow
    fast_msg, slow_msg = (message_from_string(m.decode(), policy=default) for m in (fast, slow))
    for name in ("From", "To", "Subject", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert str(fast_msg[name]) == str(slow_msg[name])
    assert parts(fast) == parts(slow)
    # Anything but the four personal fields differs: the template steps aside.
    env = replace(batch[0].envelope(job), subject="Another subject")
    assert template.render(env, html="x", text="x") is None


@pytest.mark.parametrize(
    "body",
    [
        "",
        "short ascii",
        "Été\nà Fès",
        "Le café de la place " * 10,
        "é" * 100,
        "ش" * 100,
        "x" * 200 + "\n" + "ok",
        "line\r\nwith \r\n endings \n",
        "trailing space   \n.\n",
    ],
)
def test_body_encoding_is_the_email_packages_choice(body):
    from email.message import EmailMessage

    from digest.delivery.message import POLICY

    reference = EmailMessage(policy=POLICY)
    reference.set_content(body, subtype="plain", charset="utf-8")
    cte, encoded = encode_body(body)
    assert cte.decode() == reference["Content-Transfer-Encoding"]
    assert max(map(len, encoded.split(b"\r\n"))) <= 78 and b"\n" not in encoded.replace(
        b"\r\n", b""
    )
    ours = EmailMessage(policy=default)
    ours["Content-Type"] = 'text/plain; charset="utf-8"'
    ours["Content-Transfer-Encoding"] = cte.decode()
    ours.set_payload(encoded)
    assert (
        ours.get_content() == message_from_bytes(reference.as_bytes(), policy=default).get_content()
    )


def job_with(sample, *, html, text):
    """The sample job with other bodies (no placeholders in them)."""
    job, _ = sample
    rendered = replace(job.rendered, html=html, text=text, tokens={})
    return replace(job, rendered=rendered, personalizer=type(job.personalizer)(rendered))


def test_8bit_body_is_announced_with_body_8bitmime(server, sample):
    job = job_with(sample, html="<p>Bonjour é</p>", text="Été à Fès")
    with backend_for(server) as backend:
        assert statuses(backend.send_batch(job, recipients(sample, 1))) == {1: "sent"}
    [got] = server.wait_for(1)
    assert "BODY=8BITMIME" in got.mail_options
    assert got.message().get_body(("plain",)).get_content().strip() == "Été à Fès"


def test_lines_starting_with_a_dot_survive(server, sample):
    text = ".\n.leading dot\n..two dots\nend\n."
    job = job_with(sample, html="<p>x</p>\n.<p>y</p>", text=text)
    with backend_for(server) as backend:
        assert statuses(backend.send_batch(job, recipients(sample, 2))) == {1: "sent", 2: "sent"}
    for got in server.wait_for(2):
        body = got.message().get_body(("plain",)).get_content()
        assert body.replace("\r\n", "\n") == text + "\n"


# --- one connection ------------------------------------------------------------------------


def test_one_connection_is_reused_across_batches_and_closed_with_quit(server, sample):
    job, _ = sample
    backend = backend_for(server)
    assert server.connections == 0  # lazy: nothing opened before the first message
    for start in (1, 5, 9):
        assert set(statuses(backend.send_batch(job, recipients(sample, 4, start))).values()) == {
            "sent"
        }
    assert len(server.wait_for(12)) == 12
    assert server.connections == 1 and backend.connections_opened == 1
    backend.close()
    assert wait_until(lambda: server.quits == 1)


@pytest.mark.parametrize(("drop_at", "reply"), [("mail", None), ("mail", "421"), ("data", "421")])
def test_dropped_connection_mid_batch_reconnects_and_loses_nothing(server, sample, drop_at, reply):
    job, _ = sample
    server.drop_after, server.drop_at, server.drop_reply = 3, drop_at, reply
    batch = recipients(sample, 10)
    with backend_for(server) as backend:
        outcomes = backend.send_batch(job, batch)
    assert [o.status for o in outcomes] == ["sent"] * 10
    server.wait_for(10)
    # Each message exactly once, in order, although the server cut three connections.
    assert server.recipients() == [r.subscriber.email for r in batch]
    assert server.drops == 3 and server.connections == 4 == backend.connections_opened
    assert [m.connection for m in server.messages] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]


@pytest.mark.parametrize("drop_at", ["data", "queued"])
def test_a_drop_after_the_final_dot_is_unknown_and_not_resent(server, sample, drop_at):
    # After DATA's final dot and before the 250 the client cannot know whether the relay
    # queued it ("queued": it did; "data": it did not): never resent blindly.
    job, _ = sample
    server.drop_after, server.drop_at = 3, drop_at
    batch = recipients(sample, 8)
    with backend_for(server) as backend:
        outcomes = backend.send_batch(job, batch)
    assert [o.status for o in outcomes] == ["sent"] * 3 + ["unknown"] + ["sent"] * 3 + ["unknown"]
    assert "may have queued it" in outcomes[3].detail
    emails = [r.subscriber.email for r in batch]
    expected = (
        emails if drop_at == "queued" else [e for i, e in enumerate(emails) if i not in (3, 7)]
    )
    server.wait_for(len(expected))
    assert server.recipients() == expected  # each at most once
    assert server.connections == 2 and server.drops == 2


def test_connection_closed_between_batches_is_reopened(server, sample):
    # What a relay's idle timeout does: the next batch finds the connection gone.
    job, _ = sample
    backend = backend_for(server)
    assert set(statuses(backend.send_batch(job, recipients(sample, 2))).values()) == {"sent"}
    server.drop_after = 2
    assert set(statuses(backend.send_batch(job, recipients(sample, 2, 3))).values()) == {"sent"}
    backend.close()
    assert server.recipients() == [f"reader{i}@example.org" for i in range(1, 5)]
    assert server.connections == 2


def test_failed_reconnect_returns_what_was_sent_and_retry_for_the_rest(server, sample):
    job, _ = sample
    server.drop_after, server.max_connections = 2, 1  # then the relay is gone
    backend = backend_for(server)
    outcomes = backend.send_batch(job, recipients(sample, 5))
    assert [o.status for o in outcomes] == ["sent", "sent", "retry", "retry", "retry"]
    assert "could not connect" in outcomes[2].detail
    assert server.recipients() == ["reader1@example.org", "reader2@example.org"]
    # The next batch sends nothing: now the whole batch is transient.
    with pytest.raises(DeliveryTransient, match="could not connect to the SMTP server"):
        backend.send_batch(job, recipients(sample, 2, start=6))
    backend.close()


# --- per-recipient answers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "code", "status"),
    [
        ("rcpt", 550, "failed"),
        ("rcpt", 450, "retry"),
        ("data", 554, "failed"),
        ("data", 451, "retry"),
    ],
)
def test_refusal_of_one_recipient_touches_only_that_recipient(server, sample, where, code, status):
    batch = recipients(sample, 4)
    bad = batch[1].subscriber
    (server.refuse_rcpt if where == "rcpt" else server.fail_data)[bad.email] = code
    outcomes = send(server, sample, batch)
    assert statuses(outcomes) == {1: "sent", 2: status, 3: "sent", 4: "sent"}
    detail = next(o.detail for o in outcomes if o.subscriber_id == bad.id)
    assert detail.startswith(f"{code} ") and len(detail) > 4  # the server's own words
    server.wait_for(3)
    assert bad.email not in server.recipients()
    assert server.connections == 1  # RSET kept the connection usable


def test_non_ascii_local_part_goes_with_smtputf8(server, sample):
    job, factory = sample
    utf8 = factory(Subscriber(id=1, email="zoé@exämple.org", name="Zoé"))
    batch = [utf8, *recipients(sample, 1, start=2)]
    assert statuses(send(server, sample, batch)) == {1: "sent", 2: "sent"}
    first, second = server.wait_for(2)
    assert first.rcpt_tos == ("zoé@xn--exmple-cua.org",)  # the domain as IDNA, as in To
    assert "SMTPUTF8" in first.mail_options and "SMTPUTF8" not in second.mail_options
    head = first.data.split(b"\r\n\r\n", 1)[0]
    to_line = next(h for h in head.split(b"\r\n") if h.startswith(b"To:"))
    assert to_line == "To: Zoé <zoé@xn--exmple-cua.org>".encode()  # raw UTF-8, no encoded word
    msg = message_from_string(first.data.decode("utf-8"), policy=default)  # RFC 6532 headers
    assert msg["To"].addresses[0].addr_spec == "zoé@xn--exmple-cua.org"
    assert msg["Subject"] == job.rendered.subject
    assert second.data.split(b"\r\n\r\n", 1)[0].isascii()  # the others: as before


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-by-one"])
def test_without_smtputf8_such_a_recipient_fails_alone_with_the_reason(sample, pipelining):
    _, factory = sample
    batch = [
        *recipients(sample, 1),
        factory(Subscriber(id=7, email="dédé@example.com")),
        *recipients(sample, 1, start=3),
    ]
    with SmtpTestServer(smtputf8=False, pipelining=pipelining) as srv:
        outcomes = send(srv, sample, batch)
        assert statuses(outcomes) == {1: "sent", 7: "failed", 3: "sent"}
        detail = next(o.detail for o in outcomes if o.subscriber_id == 7)
        assert detail == (
            f"the SMTP server at {srv.host}:{srv.port} does not offer SMTPUTF8, which an "
            "address with a non-ASCII local part needs"
        )
        srv.wait_for(2)
        assert srv.recipients() == ["reader1@example.org", "reader3@example.org"]
        assert srv.connections == 1


def test_an_idn_domain_needs_no_smtputf8(sample):
    _, factory = sample
    with SmtpTestServer(smtputf8=False) as srv:
        outcomes = send(srv, sample, [factory(Subscriber(id=1, email="amina@exämple.ma"))])
        assert statuses(outcomes) == {1: "sent"}
        [got] = srv.wait_for(1)
    assert got.rcpt_tos == ("amina@xn--exmple-cua.ma",)
    assert "SMTPUTF8" not in got.mail_options and got.data.split(b"\r\n\r\n")[0].isascii()


def test_an_address_no_envelope_can_carry_fails_alone(server, sample):
    _, factory = sample
    batch = [factory(Subscriber(id=1, email="a<b>@example.org")), *recipients(sample, 1, start=2)]
    outcomes = send(server, sample, batch)
    assert statuses(outcomes) == {1: "failed", 2: "sent"}
    assert "angle bracket" in outcomes[0].detail


# --- batch-wide answers --------------------------------------------------------------------


def test_sender_refused_is_systematic(server, sample):
    server.refuse_sender = 553
    with pytest.raises(DeliveryRefused) as caught:
        send(server, sample, recipients(sample, 3))
    assert not isinstance(caught.value, DeliveryAuthError)
    assert caught.value.status == 553
    assert "refused the sender matinale@example.ma: 553 5.7.1" in str(caught.value)
    assert server.messages == []


def test_sender_refused_with_4xx_is_transient(server, sample):
    server.refuse_sender = 451
    with pytest.raises(DeliveryTransient) as caught:
        send(server, sample, recipients(sample, 2))
    assert caught.value.status == 451


def test_sender_refused_after_some_were_sent_keeps_their_outcomes(server, sample):
    job, _ = sample
    server.refuse_sender = lambda accepted: 553 if accepted >= 2 else None
    backend = backend_for(server)
    outcomes = backend.send_batch(job, recipients(sample, 4))
    # Raising would drop the two "sent": the loop would send them again.
    assert [o.status for o in outcomes] == ["sent", "sent", "retry", "retry"]
    assert "refused the sender" in outcomes[2].detail
    with pytest.raises(DeliveryRefused):  # the next batch meets it before sending anything
        backend.send_batch(job, recipients(sample, 2, start=5))
    backend.close()
    assert len(server.messages) == 2


def test_wrong_password_is_an_auth_error_without_the_password(sample):
    with SmtpTestServer(tls="starttls", auth=(USER, PASSWORD)) as srv:
        with pytest.raises(DeliveryAuthError) as caught:
            send(
                srv,
                sample,
                recipients(sample, 2),
                security="starttls",
                username=USER,
                password="wrong-" + PASSWORD,
            )
        err = caught.value
        assert f"refused the login for {USER}: 535" in str(err)
        for text in (str(err), repr(err), err.detail, repr(err.args)):
            assert PASSWORD not in text
        assert srv.logins == [("PLAIN", USER, False)]  # one attempt, not one per mechanism
        assert srv.messages == []


# --- TLS -----------------------------------------------------------------------------------


def test_starttls_and_auth_with_a_test_ca(sample):
    with SmtpTestServer(tls="starttls", auth=(USER, PASSWORD)) as srv:
        outcomes = send(
            srv,
            sample,
            recipients(sample, 3),
            security="starttls",
            username=USER,
            password=PASSWORD,
        )
        assert [o.status for o in outcomes] == ["sent"] * 3
        assert len(srv.wait_for(3)) == 3
        assert srv.logins == [("PLAIN", USER, True)] and srv.connections == 1


def test_starttls_required_but_not_offered_sends_no_credentials(sample):
    # The server would take AUTH in clear: the client must not even try.
    with SmtpTestServer(auth=(USER, PASSWORD), auth_require_tls=False) as srv:
        with pytest.raises(DeliveryRefused, match="does not offer STARTTLS .* refusing to send"):
            send(
                srv,
                sample,
                recipients(sample, 1),
                security="starttls",
                username=USER,
                password=PASSWORD,
            )
        assert srv.logins == [] and srv.messages == []


def test_untrusted_certificate_is_refused(sample):
    with SmtpTestServer(tls="starttls") as srv:
        config = SmtpConfig(
            host=srv.host,
            port=srv.port,
            security="starttls",
            timeout=5,
            local_hostname="client.test",
        )
        with pytest.raises(DeliveryRefused, match="certificate .* is not trusted"):
            SmtpBackend(config).send_batch(sample[0], recipients(sample, 1))  # system CAs only
        assert srv.messages == []


def test_implicit_tls(sample):
    with SmtpTestServer(tls="implicit", auth=(USER, PASSWORD)) as srv:
        outcomes = send(
            srv, sample, recipients(sample, 2), security="tls", username=USER, password=PASSWORD
        )
        assert [o.status for o in outcomes] == ["sent", "sent"]
        assert srv.wait_for(2)[0].message()["To"].addresses[0].addr_spec == "reader1@example.org"
        assert srv.logins == [("PLAIN", USER, True)]


def test_tls_against_a_plain_server_says_so(server, sample):
    with pytest.raises(
        DeliveryRefused, match=r"TLS with the SMTP server .* smtp\.security \(tls\)"
    ):
        send(server, sample, recipients(sample, 1), security="tls")


# --- credentials and connections -----------------------------------------------------------


def test_password_in_clear_only_to_loopback(sample):
    config = SmtpConfig(
        host="mail.example.invalid", port=25, security="none", username=USER, password=PASSWORD
    )
    with pytest.raises(DeliveryRefused, match="refusing to send the SMTP password .* in clear"):
        SmtpBackend(config).send_batch(sample[0], recipients(sample, 1))
    with SmtpTestServer(auth=(USER, PASSWORD), auth_require_tls=False) as srv:
        outcomes = send(srv, sample, recipients(sample, 1), username=USER, password=PASSWORD)
        assert [o.status for o in outcomes] == ["sent"]


def test_connection_refused_is_transient(sample):
    config = SmtpConfig(host="127.0.0.1", port=closed_port(), security="none", timeout=2)
    with pytest.raises(
        DeliveryTransient, match="could not connect to the SMTP server at 127.0.0.1"
    ):
        SmtpBackend(config).send_batch(sample[0], recipients(sample, 2))


def test_silent_server_times_out_as_transient(sample):
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts (backlog), never greets
        config = SmtpConfig(
            host="127.0.0.1",
            port=mute.getsockname()[1],
            security="none",
            timeout=0.3,
            local_hostname="client.test",
        )
        with pytest.raises(DeliveryTransient, match="could not connect"):
            SmtpBackend(config).send_batch(sample[0], recipients(sample, 1))


def test_nagle_is_off_so_no_message_waits_for_a_delayed_ack(server, sample):
    # With Nagle on, the end of each message (the last TLS record) waited up to 40 ms for the
    # server's delayed ACK: 23 messages/s over STARTTLS instead of 550.
    backend = backend_for(server)
    backend.send_batch(sample[0], recipients(sample, 1))
    assert backend._conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    backend.close()


def test_info_names_the_destination_never_the_password():
    backend = SmtpBackend(
        SmtpConfig(host="smtp.example.ma", port=587, username=USER, password=PASSWORD)
    )
    assert backend.info.name == "smtp"
    assert backend.info.destination == f"smtp://smtp.example.ma:587 (starttls, as {USER})"
    assert PASSWORD not in repr(backend.info) and PASSWORD not in repr(backend.config)
