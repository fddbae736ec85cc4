from __future__ import annotations

import pytest

from digest.render.strings import _TABLE, KEYS, greeting, strings, text


def test_every_language_has_every_key():
    for lang in ("fr", "en", "ar"):
        assert set(_TABLE[lang]) == KEYS


def test_fallback_to_language_then_english():
    assert strings("fr_MA")["featured"] == "À la une"
    assert strings("fr-CA")["read_more"] == "Lire la suite"
    assert strings("de")["ticker"] == "In brief"
    assert text("ar", "unsubscribe") == "إلغاء الاشتراك"


def test_greeting_with_and_without_a_name():
    assert greeting("Amina", "fr") == "Bonjour Amina,"
    assert greeting("", "fr") == "Bonjour,"
    assert greeting(None, "en") == "Hello,"
    assert greeting("  ", "ar") == "مرحبًا،"
    assert greeting("أمينة", "ar") == "مرحبًا أمينة،"
    assert greeting("{list}", "fr") == "Bonjour {list},"


def test_greeting_strips_line_breaks_and_controls():
    g = greeting("Amina\r\nBcc: x@example.org\u2028\x00", "fr")
    assert g == "Bonjour Amina Bcc: x@example.org,"
    assert "\r" not in g and "\n" not in g
    assert len(greeting("A" * 500, "fr")) < 100


@pytest.mark.parametrize("locale", ["fr", "en", "ar", "fr_MA", "de"])
@pytest.mark.parametrize(
    "name",
    [
        "",
        None,
        "Amina",
        "  Amina  ",
        "Jean  Dupont",
        "A\r\nBcc: x@y",
        "فاطمة الزهراء",
        "x" * 200,
        "\u200fسلمى",
        "\t",
    ],
)
def test_greeter_matches_greeting(locale, name):
    from digest.render.strings import Greeter, greeting

    assert Greeter(locale)(name) == greeting(name, locale)
