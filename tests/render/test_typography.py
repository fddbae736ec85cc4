"""Locale-aware text: French no-break spaces, and Arabic headings with an Arabic font."""

from __future__ import annotations

import re

import lxml.html
import pytest

from digest.render import render_edition
from digest.render.typography import NBSP, for_locale, french

from .conftest import featured_story, make_config, make_edition, ticker_story

N = NBSP
CASES = [
    # (typed, as the email shows it)
    ("Pourquoi le port grandit ?", f"Pourquoi le port grandit{N}?"),
    ("Enfin!", f"Enfin{N}!"),
    ("Incroyable !!!", f"Incroyable{N}!!!"),
    ("Quoi?!", f"Quoi{N}?!"),
    ("Canicule : la vigilance orange", f"Canicule{N}: la vigilance orange"),
    ("Attention: danger", f"Attention{N}: danger"),
    ("Rabat ; Casablanca", f"Rabat{N}; Casablanca"),
    ("Rabat; Casablanca", f"Rabat{N}; Casablanca"),
    ("inscrit à « La matinale ».", f"inscrit à «{N}La matinale{N}»."),
    ("«oui»", f"«{N}oui{N}»"),
    ("«Vraiment?»", f"«{N}Vraiment{N}?{N}»"),
    ("une croissance de 4,4 % en 2025", f"une croissance de 4,4{N}% en 2025"),
    ("4,4% de hausse", f"4,4{N}% de hausse"),
    ("12 ‰", f"12{N}‰"),
    ("Voir https://www.example.ma/a?b=1 !", f"Voir https://www.example.ma/a?b=1{N}!"),
    # must not change
    ("Réunion à 07:30 puis 18:45", "Réunion à 07:30 puis 18:45"),
    ("Format 16:9, score 2:1", "Format 16:9, score 2:1"),
    ("https://www.example.ma/une?x=1;y=2&z=3:4!", "https://www.example.ma/une?x=1;y=2&z=3:4!"),
    ("Lien : https://www.example.ma/a?b=c", f"Lien{N}: https://www.example.ma/a?b=c"),
    ("www.example.ma/recherche?q=maroc", "www.example.ma/recherche?q=maroc"),
    ("Écrivez à redaction@example.ma", "Écrivez à redaction@example.ma"),
    ('<a href="https://x.ma/?a=1:2">lien</a>', '<a href="https://x.ma/?a=1:2">lien</a>'),
    (f"Déjà espacé{N}? Oui{N}!", f"Déjà espacé{N}? Oui{N}!"),
    ("Fine\u202f? Gardée\u202f: «\u202foui\u202f»", "Fine\u202f? Gardée\u202f: «\u202foui\u202f»"),
    ("Rien à faire ici.", "Rien à faire ici."),
    ("", ""),
]


@pytest.mark.parametrize(("typed", "shown"), CASES)
def test_french_spacing(typed, shown):
    assert french(typed) == shown


@pytest.mark.parametrize(("typed", "shown"), CASES)
def test_french_spacing_is_idempotent(typed, shown):
    assert french(shown) == shown


@pytest.mark.parametrize(
    ("locale", "french_rules"),
    [("fr", True), ("fr_MA", True), ("fr-CA", True), ("en", False), ("ar", False), ("", False)],
)
def test_only_french_variants_get_the_rules(locale, french_rules):
    assert (for_locale(locale)("Vraiment ?") == f"Vraiment{N}?") is french_rules


def render(locale, **kw):
    return render_edition(
        make_edition(
            locale,
            featured=[
                featured_story(
                    title="Le port grandit : pourquoi ?",
                    paragraphs=("Le trafic a crû de 4,4 % en un an, « un record ».",),
                )
            ],
            ticker=[ticker_story(1, title="Météo : 40 °C attendus à 15:00 !")],
            note="Bonne lecture !",
            preheader="À lire : le port",
            **kw,
        ),
        make_config(locale),
        list_title="La matinale",
    )


@pytest.mark.parametrize("locale", ["fr", "fr_MA"])
def test_titles_ledes_ticker_note_and_own_strings_are_spaced(locale):
    r = render(locale)
    for part in (r.html, r.text):
        assert f"Le port grandit{N}: pourquoi{N}?" in part  # featured title
        assert f"4,4{N}%" in part and f"«{N}un record{N}»" in part  # the lede
        assert f"Météo{N}: 40 °C attendus à 15:00{N}!" in part  # ticker, the time untouched
        assert f"Bonne lecture{N}!" in part  # the editor's note
        assert f"inscrit à «{N}La matinale{N}»" in part  # the email's own words
    assert f"À lire{N}: le port" in r.html  # the preheader
    assert f"Lire la suite{N}: https://www.example.ma/une/port" in r.text
    # never inside a URL or a tag
    assert 'href="https://www.example.ma/depeche/1?src=digest&amp;n=1"' in r.html
    assert not re.search(f"<[^>]*{N}[^>]*>", r.html)


def test_other_languages_are_left_as_typed():
    r = render("en")
    assert (
        NBSP + ":" not in r.html.replace("&nbsp;", "") and "Le port grandit : pourquoi ?" in r.html
    )


def font_stacks(html):
    """Every font-family of the email (style blocks and inline styles), quotes made alike."""
    root = lxml.html.document_fromstring(html)
    css = [el.get("style") or "" for el in root.iter() if isinstance(el.tag, str)]
    css += [el.text or "" for el in root.iter("style")]
    return {
        " ".join(m.replace('"', "'").split())
        for block in css
        for m in re.findall(r"font-family:\s*([^;}]+)", block)
    }


def heading_rules(html):
    """The three small headings' rules in the style block (not the dark-mode colour ones)."""
    rules = re.findall(r"\.dg-(?:heading|day|note-label) \{[^}]*\}", html)
    return [rule for rule in rules if "font-size" in rule]


def test_arabic_headings_have_no_letter_spacing_nor_capitals_and_an_arabic_font():
    r = render("ar")
    rules = heading_rules(r.html)
    assert len(rules) == 3
    assert "letter-spacing" not in r.html and "uppercase" not in r.html  # inlined ones too
    fonts = font_stacks(r.html)
    assert fonts and all(f.startswith("Tahoma, 'Segoe UI', 'Geeza Pro'") for f in fonts), fonts
    assert all("'Noto Naskh Arabic'" in f for f in fonts)


def test_french_headings_keep_their_spaced_capitals_and_the_theme_font():
    r = render("fr")
    rules = heading_rules(r.html)
    assert len(rules) == 3 and all("text-transform: uppercase" in rule for rule in rules)
    [heading] = re.findall(r'<h2 class="dg-heading" style="([^"]*)"', r.html)[:1]
    assert "letter-spacing:1px" in heading.replace(" ", "")  # inlined as well
    fonts = font_stacks(r.html)
    assert fonts and all(f.startswith("Georgia") for f in fonts), fonts
