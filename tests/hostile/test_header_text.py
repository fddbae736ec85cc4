"""digest.headers on its own: what every header path relies on."""

from __future__ import annotations

import pytest

from digest.headers import (
    SUBJECT_MAX,
    address_problem,
    header_text,
    message_id_text,
    shorten,
)
from tests.hostile.fixtures.header_values import HEADER_VALUES, HOSTILE_ADDRESSES, LEGITIMATE

VALUES = [pytest.param(value, id=vid) for vid, value, _ in HEADER_VALUES]


def no_break(text: str) -> bool:
    return not any(c in text for c in "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@pytest.mark.parametrize("value", VALUES)
def test_header_text_leaves_nothing_to_decode_or_break(value):
    """Attacks: any encoded word, raw or nested, surviving into a header value."""
    out = header_text(value)
    assert "=?" not in out  # no hostile value keeps one; a "=?" with no "?=" after is inert
    assert no_break(out)
    assert header_text(out) == out  # idempotent: applying it on every layer changes nothing


@pytest.mark.parametrize("value", VALUES)
def test_capped_text_is_cut_at_a_word_with_an_ellipsis(value):
    """Attacks: a 100 kB headline becoming a 100 kB Subject (and a too long DB value)."""
    out = header_text(value, SUBJECT_MAX)
    assert len(out) <= SUBJECT_MAX
    if len(header_text(value)) > SUBJECT_MAX:
        assert out.endswith("…")


def test_shorten_cuts_between_words():
    assert shorten("Breaking news " * 30, 40) == "Breaking news Breaking news Breaking…"
    assert shorten("A" * 50, 10) == "A" * 9 + "…"
    assert shorten("short", 10) == "short"


@pytest.mark.parametrize(
    ("value", "expected"), [pytest.param(v, e, id=i) for i, v, e in LEGITIMATE]
)
def test_legitimate_encoded_words_keep_their_meaning(value, expected):
    """Not an attack: a name exported as an encoded word still reads as the name."""
    assert header_text(value) == expected


def test_decoded_payload_is_one_line_of_text():
    """Attacks: CR LF in a Q payload; it becomes a space, the rest stays readable text."""
    assert header_text("=?utf-8?q?x=0D=0ABcc:_v@example.net?=") == "x Bcc: v@example.net"


@pytest.mark.parametrize("address", [pytest.param(a, id=i) for i, a, _ in HOSTILE_ADDRESSES])
def test_addresses_with_encoded_words_are_refused_with_a_reason(address):
    """Attacks: an address whose local part the To header would decode."""
    assert "encoded word" in address_problem(address)


@pytest.mark.parametrize(
    "address", ["a\r\nb@example.com", "a\x00b@example.com", "a b@example.com", "a@example.com\n"]
)
def test_addresses_with_breaks_or_spaces_are_refused(address):
    """Attacks: a raw CR/LF/NUL in an address (SMTP command injection, header injection)."""
    assert address_problem(address)


def test_plain_addresses_pass():
    assert address_problem("amina.benali+news@example.co.ma") is None


def test_message_id_keeps_only_msg_id_characters():
    """Attacks: a list name with an encoded word or a line break in an edition id."""
    out = message_id_text("<=?utf-8?q?x=0D=0A?=\r\nBcc: x.1@example.com>")
    assert "=?" not in out and no_break(out) and " " not in out
    assert (
        message_id_text("<matinale-2025-07-01.1a.ff00@example.ma>")
        == "<matinale-2025-07-01.1a.ff00@example.ma>"
    )
