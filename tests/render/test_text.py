"""The plain-text part is built from the edition data, in the edition's language."""

from __future__ import annotations

from digest.render import render_edition

from .conftest import ADDRESS, featured_story, make_config, make_edition, ticker_story


def test_text_part_has_every_section(config):
    edition = make_edition("fr", ticker=[ticker_story(0), ticker_story(1)], note="Bonne lecture.")
    r = render_edition(edition, config, list_title="La matinale")
    text, tok = r.text, r.tokens["text"]
    lines = text.splitlines()
    assert lines[0] == "L'Écho de Casablanca — La matinale"
    assert lines[1] == "mardi 1 juillet 2025"
    assert (
        lines[2] == "Voir en ligne\u00a0: https://www.example.ma/digest/archive/2025-07-01-matinale"
    )
    assert lines[4] == tok["greeting"]
    assert "Le mot de la rédaction\nBonne lecture." in text
    assert "À LA UNE\n========" in text
    assert "Le port de Casablanca agrandi" in text
    first, *rest = featured_story().paragraphs
    assert first in text  # the lede: featured_paragraphs = 1
    assert not [p for p in rest if p in text]
    assert "Lire la suite\u00a0: https://www.example.ma/une/port" in text
    assert "EN BREF\n=======" in text
    assert (
        "06:59  Dépêche numéro 0 sur l'actualité du jour\n"
        "       https://www.example.ma/depeche/0?src=digest&n=0\n"
    ) in text
    assert "06:48  Dépêche numéro 1" in text
    assert "\n-- \n" in text
    assert "Vous recevez cette lettre car vous êtes inscrit à «\u00a0La matinale\u00a0»." in text
    assert f"Se désabonner\u00a0: {tok['unsubscribe_url']}" in text
    assert f"Gérer mes préférences\u00a0: {tok['preferences_url']}" in text
    assert ADDRESS in text
    assert "<" not in text.replace("<b>", "")  # no markup was stripped into it
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_text_part_wraps_long_paragraphs_but_not_urls(config):
    long_url = "https://www.example.ma/" + "segment/" * 15
    edition = make_edition(
        "fr", featured=[featured_story(paragraphs=("mot " * 100,), url=long_url)]
    )
    text = render_edition(edition, config, list_title="La matinale").text
    body = text.split("À LA UNE")[1].split("EN BREF")[0]
    assert all(len(line) <= 76 for line in body.splitlines() if "http" not in line)
    assert long_url in text


def test_text_part_in_english_and_arabic():
    en = render_edition(make_edition("en"), make_config("en"), list_title="Morning Brief").text
    assert "TOP STORIES" in en and "IN BRIEF" in en and "Read more: https://" in en
    assert "You are receiving this email because you subscribed to “Morning Brief”." in en
    ar = render_edition(make_edition("ar"), make_config("ar"), list_title="الصباحية").text
    assert "أبرز الأخبار" in ar and "باختصار" in ar and "اقرأ المزيد:" in ar
    assert "تصلك هذه الرسالة لأنك مشترك في «الصباحية»." in ar


def test_text_part_without_featured_or_ticker(config):
    r = render_edition(
        make_edition("fr", featured=[], ticker=[ticker_story(0)]), config, list_title="La matinale"
    )
    assert "À LA UNE" not in r.text and "À la une" not in r.html
    r = render_edition(make_edition("fr", ticker=[]), config, list_title="La matinale")
    assert "EN BREF" not in r.text and "En bref" not in r.html
    assert 'class="dg-ticker"' not in r.html
