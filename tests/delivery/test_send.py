"""The send loop with the outbox backend: render once, personalize per subscriber, skip who left."""

import html as htmllib
from datetime import datetime
from email import message_from_bytes, message_from_string
from email.policy import default

import pytest

from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.edition.build import edition_for_send
from digest.render import pipeline
from digest.store.csvio import read_subscriber_csv
from digest.store.subscribers import import_subscribers, suppress, unsubscribe
from digest.tokens import TokenSigner
from tests.conftest import SAMPLE_NOW

SIGNER = TokenSigner("k" * 40)


def subscribe(db, rows):
    body = "email,name,locale\n" + "".join(f"{e},{n},\n" for e, n in rows)
    return import_subscribers(db, "matinale", read_subscriber_csv(body.encode("utf-8")))


def send(config, db, out, **kw):
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    return deliver(config, db, stored, OutboxBackend(out), signer=SIGNER, **kw)


def messages(out):
    return {
        p.name: message_from_bytes(p.read_bytes(), policy=default)
        for p in sorted(out.glob("*.eml"))
    }


def test_compile_and_inline_run_once_per_edition_not_per_subscriber(
    config, db, tmp_path, monkeypatch
):
    subscribe(db, [(f"reader{i}@example.com", f"Reader {i}") for i in range(120)])
    calls = {"mjml": 0, "premailer": 0}
    real_mjml, real_premailer = pipeline.mjml2html, pipeline.Premailer

    def counting_mjml(*a, **kw):
        calls["mjml"] += 1
        return real_mjml(*a, **kw)

    def counting_premailer(*a, **kw):
        calls["premailer"] += 1
        return real_premailer(*a, **kw)

    monkeypatch.setattr(pipeline, "mjml2html", counting_mjml)
    monkeypatch.setattr(pipeline, "Premailer", counting_premailer)
    report = send(config, db, tmp_path / "out")
    assert report.sent == 120 and len(messages(tmp_path / "out")) == 120
    assert calls == {"mjml": 1, "premailer": 1}


def test_each_message_carries_its_own_signed_links_and_escaped_name(config, db, tmp_path):
    subscribe(db, [("amina@example.com", '<Amina & "co">'), ("omar@example.org", "Omar")])
    send(config, db, tmp_path / "out")
    seen = {}
    for msg in messages(tmp_path / "out").values():
        address = msg["To"].addresses[0]
        header = msg["List-Unsubscribe"]
        url = header.split(">", 1)[0].lstrip("<")
        assert url.startswith("https://www.example.ma/digest/u/")
        sub_id, list_name = SIGNER.read(url.rsplit("/", 1)[1])
        assert list_name == "matinale"
        seen[address.addr_spec] = sub_id
        html = msg.get_body(("html",)).get_content()
        text = msg.get_body(("plain",)).get_content()
        assert htmllib.escape(url) in html and url in text  # visible link in both parts
        assert "__dg" not in html and "__dg" not in text
        if address.addr_spec == "amina@example.com":
            assert "Bonjour &lt;Amina &amp; &quot;co&quot;&gt;," in html
            assert 'Bonjour <Amina & "co">,' in text
            assert "<Amina" not in html
            assert address.display_name == '<Amina & "co">'
    assert len(set(seen.values())) == 2
    assert len({m["Message-ID"] for m in messages(tmp_path / "out").values()}) == 2


def test_unsubscribed_and_suppressed_are_skipped_and_counted(config, db, tmp_path):
    subscribe(db, [("a@example.com", "A"), ("b@example.com", "B"), ("c@example.com", "C")])
    unsubscribe(db, "B@example.com", "matinale")
    suppress(db, "c@example.com", "bounce", "test")
    report = send(config, db, tmp_path / "out")
    assert (report.total, report.sent, report.skipped, report.failed) == (3, 1, 2, 0)
    assert [m["To"].addresses[0].addr_spec for m in messages(tmp_path / "out").values()] == [
        "a@example.com"
    ]


def test_a_second_run_of_the_day_sends_nothing_twice(config, db, tmp_path):
    from digest.store.editions import AlreadySent

    subscribe(db, [("a@example.com", "A"), ("b@example.com", "B")])
    first = send(config, db, tmp_path / "out")
    assert (first.status, first.sent) == ("sent", 2)
    with pytest.raises(AlreadySent, match="was sent already"):
        send(config, db, tmp_path / "again")
    assert list((tmp_path / "again").glob("*.eml")) == []


def test_the_outbox_writes_a_non_ascii_local_part_as_utf8(config, db, tmp_path):
    subscribe(db, [("dédé@exemple.fr", "Dédé"), ("ok@example.com", "Ok")])
    report = send(config, db, tmp_path / "out")
    assert (report.sent, report.failed) == (2, 0)
    raws = [p.read_bytes() for p in sorted((tmp_path / "out").glob("*.eml"))]
    [utf8] = [raw for raw in raws if "dédé".encode() in raw]
    assert "To: Dédé <dédé@exemple.fr>\r\n".encode() in utf8  # raw UTF-8 (RFC 6532)
    msg = message_from_string(utf8.decode("utf-8"), policy=default)
    assert msg["To"].addresses[0].addr_spec == "dédé@exemple.fr"
    assert msg.get_body(("plain",)).get_content().strip()
    [ascii_one] = [raw for raw in raws if raw is not utf8]
    assert ascii_one.split(b"\r\n\r\n", 1)[0].isascii()  # the others: as before


def test_the_outbox_builds_the_mime_message_once_per_edition(config, db, tmp_path, monkeypatch):
    from digest.delivery import mime_template

    subscribe(db, [(f"reader{i}@example.com", f"Lecteur {i}") for i in range(30)])
    built = []
    real = mime_template.MessageTemplate

    def counting(env):
        built.append(env)
        return real(env)

    monkeypatch.setattr(mime_template, "MessageTemplate", counting)
    full = []
    real_build = mime_template.build_message
    monkeypatch.setattr(
        mime_template, "build_message", lambda *a, **kw: full.append(1) or real_build(*a, **kw)
    )
    report = send(config, db, tmp_path / "out")
    assert report.sent == 30 and len(messages(tmp_path / "out")) == 30
    assert len(built) == 1  # the template, once per send
    assert len(full) == 1  # build_message only inside the template, never per recipient
