"""Size against Gmail's clipping, and the warning that says what to trim."""

from __future__ import annotations

from digest.models import Image
from digest.render import render_edition
from digest.render.checks import image_warnings

from .conftest import featured_story, make_config, make_edition, ticker_story


def test_normal_edition_is_well_under_gmail_clipping(config):
    edition = make_edition("fr", ticker=[ticker_story(i) for i in range(30)])
    r = render_edition(edition, config, list_title="La matinale")
    assert r.html_bytes < 102_000
    assert r.html_bytes < config.edition.max_html_bytes
    assert r.warnings == ()


def test_oversized_ticker_warns_and_names_the_ticker(config):
    long = "Une dépêche au titre particulièrement long pour remplir la lettre " * 3
    edition = make_edition("fr", ticker=[ticker_story(i, title=f"{long} {i}") for i in range(300)])
    r = render_edition(edition, config, list_title="La matinale")
    assert r.html_bytes > 100_000
    [warning] = [w for w in r.warnings if "HTML is" in w]
    assert f"{r.html_bytes / 1000:.1f} KB" in warning
    assert "100.0 KB limit" in warning and "Gmail" in warning
    assert "ticker (300 items)" in warning
    assert "inlined CSS" in warning
    assert "Trim first: fewer ticker items (edition.ticker_max)" in warning


def test_huge_featured_story_warns_and_names_the_featured_text(config):
    paragraphs = ["Un très long paragraphe du grand reportage. " * 40 for _ in range(400)]
    config = make_config("fr", featured_paragraphs=400)
    edition = make_edition(
        "fr", featured=[featured_story(paragraphs=paragraphs)], ticker=[ticker_story(0)]
    )
    r = render_edition(edition, config, list_title="La matinale")
    [warning] = [w for w in r.warnings if "HTML is" in w]
    assert "featured text (1 stories, 400 paragraphs)" in warning
    assert "Trim first: a shorter featured story" in warning


def test_limit_comes_from_config():
    config = make_config("fr", max_html_bytes=10_000)
    r = render_edition(make_edition("fr"), config, list_title="La matinale")
    assert any("over the 10.0 KB limit" in w for w in r.warnings)


def test_image_checks_flag_missing_alt_and_width():
    html = (
        '<img src="a.png" width="10"><img src="b.png" alt="" width="auto"><img alt="x" width="5">'
    )
    assert image_warnings(html) == [
        "Image a.png has no alt text.",
        "Image b.png has no pixel width.",
    ]


def test_the_checks_read_in_the_editors_language():
    from digest.i18n import translations
    from digest.render.checks import size_warning

    fr, ar = translations("fr").gettext, translations("ar").gettext
    html = '<img src="a.png" width="10"><img src="b.png" alt="" width="auto">'
    assert image_warnings(html, fr) == [
        "L'image a.png n'a pas de texte alternatif.",
        "L'image b.png n'a pas de largeur en pixels.",
    ]
    assert image_warnings(html, ar)[0] == "الصورة a.png بلا نص بديل."
    big = "<html><body>" + '<p style="color:red">x</p>' * 2000 + "</body></html>"
    warning = size_warning(big, 1000, fr)
    assert warning.startswith("Le HTML fait ") and "au-delà de la limite de 1.0 KB" in warning
    assert "CSS en ligne (attributs style)" in warning and "HTML is" not in warning


def test_featured_image_without_sizes_gets_content_width(config):
    story = featured_story(image=Image(url="https://www.example.ma/c.jpg", alt="Vue"))
    r = render_edition(make_edition("fr", featured=[story]), config, list_title="La matinale")
    assert 'alt="Vue"' in r.html and 'width="550"' in r.html
    assert not [w for w in r.warnings if "Image" in w]
