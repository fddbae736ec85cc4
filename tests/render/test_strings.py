from __future__ import annotations

import pytest

from digest.render.strings import KEYS, LANGUAGES, briefs, greeting, strings, text


def test_every_language_has_every_key():
    assert {"fr", "en", "ar"} <= LANGUAGES
    for lang in ("fr", "en", "ar", "de"):
        assert set(strings(lang)) == KEYS
    # Translated, not English: the catalogs are read (tests/test_catalogs.py checks them all).
    assert strings("fr")["featured"] == "À la une" and strings("fr")["sep"] == " :"
    assert strings("ar")["featured"] == "أبرز الأخبار"


def test_briefs_take_each_language_plural_forms():
    assert briefs("fr", 1) == "+ 1 brève" and briefs("fr", 9) == "+ 9 brèves"
    assert briefs("en", 1) == "+ 1 brief" and briefs("en", 2) == "+ 2 briefs"
    # Arabic: one, two, 3-10, 11-99 and 100+ are different forms.
    assert briefs("ar", 1) == "+ خبر موجز واحد"
    assert briefs("ar", 2) == "+ خبران موجزان"
    assert briefs("ar", 9) == "+ 9 أخبار موجزة"
    assert briefs("ar", 12) == "+ 12 خبرًا موجزًا"
    assert briefs("ar", 100) == "+ 100 خبر موجز"
    assert briefs("fr", 0) == ""


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
