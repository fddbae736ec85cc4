from datetime import UTC, datetime
from email import message_from_bytes, message_from_string
from email.policy import default

import pytest

from digest.delivery.message import (
    Envelope,
    build_message,
    list_id,
    list_unsubscribe,
    list_unsubscribe_around,
)


def envelope(**over):
    base = dict(
        from_email="matinale@example.com",
        from_name="L'Écho de Casablanca",
        to_email="amina@example.org",
        to_name="Amina Benali",
        subject="La matinale du mardi 1 juillet 2025",
        list_id=list_id("La matinale", "matinale", "https://www.example.com"),
        unsubscribe_url="https://example.com/digest/u/abc.def",
        unsubscribe_mailto="unsub@example.com",
        message_id="<m1@example.com>",
        date=datetime(2025, 7, 1, 7, 0, tzinfo=UTC),
    )
    base.update(over)
    return Envelope(**base)


def parse(msg):
    return message_from_bytes(msg.as_bytes(), policy=default)


def test_structure_text_then_html_utf8():
    parsed = parse(build_message(envelope(), html="<p>é</p>", text="é"))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content().strip() == "é"
    assert parts[1].get_content().strip() == "<p>é</p>"


def test_rfc8058_and_list_headers():
    parsed = parse(build_message(envelope(), html="<p>x</p>", text="x"))
    assert parsed["List-Unsubscribe"] == (
        "<https://example.com/digest/u/abc.def>, "
        "<mailto:unsub@example.com?subject=unsubscribe%20abc.def>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == '"La matinale" <matinale.example.com>'
    assert parsed["Message-ID"] == "<m1@example.com>"
    assert parsed["Date"] == "Tue, 01 Jul 2025 07:00:00 +0000"


def test_non_ascii_names_and_subject_are_rfc2047_encoded():
    raw = build_message(
        envelope(to_name="أمينة بنعلي", subject="Été : 40 °C à Fès"), html="x", text="x"
    ).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == "Été : 40 °C à Fès"
    assert parsed["To"].addresses[0].display_name == "أمينة بنعلي"
    assert parsed["From"].addresses[0].display_name == "L'Écho de Casablanca"


@pytest.mark.parametrize("field", ["to_name", "subject", "from_name"])
def test_crlf_from_data_never_reaches_a_header(field):
    hostile = "Hello\r\nBcc: victim@example.net\r\n\r\n<script>x</script>"
    raw = build_message(envelope(**{field: hostile}), html="x", text="x").as_bytes()
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["Bcc"] is None
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "\nBcc:" not in head
    for line in head.split("\r\n"):
        assert "\n" not in line and "\r" not in line


def test_quotes_and_commas_in_names_do_not_split_addresses():
    parsed = parse(build_message(envelope(to_name='Benali, Amina "la chef"'), html="x", text="x"))
    addresses = parsed["To"].addresses
    assert len(addresses) == 1
    assert addresses[0].addr_spec == "amina@example.org"
    assert addresses[0].display_name == 'Benali, Amina "la chef"'


def test_list_unsubscribe_drops_characters_that_would_break_the_header():
    assert list_unsubscribe("https://x.org/u/a b>c,d", None) == "<https://x.org/u/abcd>"


def test_long_signed_unsubscribe_url_is_not_encoded_or_broken():
    url = (
        "https://www.example.ma/digest/u/5.matinale."
        + "s4c1qVbjptGs5CkQBdaEOkIxI7YVxNxB_XNAqQ73yrI"
    )
    raw = build_message(envelope(unsubscribe_url=url), html="x", text="x").as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    line = next(h for h in head.split("\r\n") if h.startswith("List-Unsubscribe:"))
    assert line == f"List-Unsubscribe: <{url}>,"
    assert "=?utf-8?" not in head.split("List-Unsubscribe:", 1)[1].split("\r\nList-Unsub")[0]
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["List-Unsubscribe"].startswith(f"<{url}>, <mailto:")


def test_non_ascii_list_title_in_list_id():
    value = list_id("النشرة الصباحية", "صباح-matin", "https://www.example.ma")
    parsed = parse(build_message(envelope(list_id=value), html="x", text="x"))
    assert parsed["List-Id"] == '"النشرة الصباحية" <-matin.example.ma>'


def test_internationalized_addresses():
    # A non-ASCII local part has no encoded form: the message's headers are UTF-8 (RFC 6532).
    raw = build_message(envelope(to_email="josé@exemple.fr", to_name="José"), html="x", text="x")
    head = raw.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert "To: José <josé@exemple.fr>\r\n".encode() in head
    assert b"=?" not in head.split(b"\r\nTo:", 1)[1].split(b"\r\n", 1)[0]
    parsed = message_from_string(raw.as_bytes().decode("utf-8"), policy=default)
    assert parsed["To"].addresses[0].addr_spec == "josé@exemple.fr"
    parsed = parse(build_message(envelope(to_email="amina@exämple.ma"), html="x", text="x"))
    assert parsed["To"].addresses[0].addr_spec == "amina@xn--exmple-cua.ma"


@pytest.mark.parametrize(
    "prefix",
    [
        "https://news.example/u/",
        "https://news.example/a b<c>,/u/",  # filtered as list_unsubscribe filters it
        "https://news.example/?x=?y/",  # an encoded word's opening, defused the same way
        "https://news.example/\u00e9t\u00e9/u/",  # non-ASCII: dropped from a header
    ],
)
@pytest.mark.parametrize("mailto", [None, "unsubscribe@news.example"])
def test_the_header_around_a_token_is_list_unsubscribe_of_prefix_and_token(prefix, mailto):
    """The SendGrid request writes each reader's header as these parts around their token."""
    for token in ["1f.matinale.AbC-_9", "x", "a.b~c", "2a.list_name.Zz0-Zz0_Zz0"]:
        parts = list_unsubscribe_around(prefix, mailto)
        made = parts[0] + token + parts[1] + (token + parts[2] if mailto else "")
        assert made == list_unsubscribe(prefix + token, mailto)
