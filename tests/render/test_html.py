"""The HTML part follows the email rules: lang/dir, preheader, footer, no script, inlined CSS."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import lxml.html
import pytest
from lxml import etree

from digest.models import Image
from digest.render import render_edition

from .conftest import ADDRESS, SITE, featured_story, make_config, make_edition, ticker_story


def render(locale="fr", config=None, **kw):
    config = config or make_config(locale)
    return render_edition(make_edition(locale, **kw), config, list_title=SITE[locale][1])


def doc(html):
    return lxml.html.document_fromstring(html)


def by_class(root, name):
    return root.xpath(f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]")


@pytest.mark.parametrize("locale,direction", [("fr", "ltr"), ("en", "ltr"), ("ar", "rtl")])
def test_html_element_has_lang_and_dir(locale, direction):
    r = render(locale)
    assert r.html.startswith("<!doctype html>")
    html_tag = re.search(r"<html\b[^>]*>", r.html).group(0)
    assert f'lang="{locale}"' in html_tag
    assert f'dir="{direction}"' in html_tag
    assert "charset=UTF-8" in r.html
    assert 'name="viewport"' in r.html
    assert r.direction == direction and r.locale == locale


def test_arabic_is_right_to_left_and_mirrored():
    r = render("ar", ticker=[ticker_story(i, title=f"عنوان الخبر {i}") for i in range(3)])
    root = doc(r.html)
    assert root.get("dir") == "rtl"
    # every section and column flows right to left; nothing left over from an LTR layout
    directions = set(re.findall(r"direction:\s*(\w+)", r.html))
    assert directions == {"rtl"}
    assert not re.search(r"text-align:\s*left", r.html)
    texts = [td for td in root.iter("td") if td.get("align") in ("left", "right")]
    assert texts and all(td.get("align") == "right" for td in texts)
    # the ticker's gap sits on the time's left side in RTL
    time_cell = by_class(root, "dg-time")[0]
    assert "padding-left:12px" in time_cell.get("style").replace(" ", "")
    assert "أبرز الأخبار" in r.html and "باختصار" in r.html


def test_french_is_left_to_right():
    r = render("fr")
    assert set(re.findall(r"direction:\s*(\w+)", r.html)) == {"ltr"}
    time_cell = by_class(doc(r.html), "dg-time")[0]
    assert "padding-right:12px" in time_cell.get("style").replace(" ", "")


def test_preheader_is_first_in_body_and_hidden():
    r = render("fr", preheader="Le port agrandi & 12 titres")
    root = doc(r.html)
    body = root.find("body")
    assert not (body.text or "").strip()
    # MJML wraps the body in one <div role="article">; the preheader is its first element,
    # so it is the first thing in <body>, with no text before it.
    elements = [el for el in body.iter(etree.Element) if el is not body]
    wrapper, first = elements[0], elements[1]
    assert wrapper.get("role") == "article" and first.getparent() is wrapper
    assert "dg-preheader" in first.get("class")
    assert not (wrapper.text or "").strip()
    style = first.get("style").replace(" ", "")
    for rule in ("display:none", "max-height:0", "overflow:hidden", "mso-hide:all"):
        assert rule in style
    # then a filler of invisible characters, so the preview shows nothing of the body after it
    assert first.text_content().startswith("Le port agrandi & 12 titres\u034f\u200c\xa0")
    assert not first.text_content()[len("Le port agrandi & 12 titres") :].strip("\u034f\u200c\xa0 ")


def test_footer_has_postal_address_why_and_links(config, edition):
    r = render_edition(edition, config, list_title="La matinale")
    root = doc(r.html)
    assert ADDRESS in root.text_content()
    assert "Vous recevez cette lettre car vous êtes inscrit à «\u00a0La matinale\u00a0»." in r.html
    links = {a.text_content(): a.get("href") for a in root.iter("a")}
    assert links["Se désabonner"] == r.tokens["html"]["unsubscribe_url"]
    assert links["Gérer mes préférences"] == r.tokens["html"]["preferences_url"]
    assert links["Visiter L'Écho de Casablanca"] == "https://www.example.ma"


def test_no_script_no_external_stylesheet_no_web_fonts():
    r = render("fr")
    low = r.html.lower()
    assert "<script" not in low
    assert "<link" not in low
    assert "@import" not in low
    assert "fonts.googleapis" not in low


def test_web_fonts_only_when_configured():
    theme = {
        "font_family": "Merriweather, Georgia, serif",
        "fonts": {"Merriweather": "https://fonts.example/merriweather.css"},
    }
    r = render("fr", config=make_config("fr", theme=theme))
    assert "https://fonts.example/merriweather.css" in r.html
    assert "fonts.googleapis" not in r.html


def test_theme_colours_and_font_are_used():
    theme = {
        "primary_color": "#123456",
        "text_color": "#222222",
        "font_family": "Helvetica, 'Arial Nova', sans-serif",
    }
    r = render("fr", config=make_config("fr", theme=theme))
    assert "#123456" in r.html and "#222222" in r.html
    assert "font-family:Helvetica, 'Arial Nova', sans-serif" in r.html


def test_images_have_alt_and_pixel_sizes():
    config = make_config("fr", theme={"logo_url": "https://www.example.ma/logo.png"})
    featured = [
        featured_story(),
        featured_story(
            title="Sans légende",
            image=Image(url="https://www.example.ma/b.jpg", width=300, height=200),
        ),
    ]
    r = render("fr", config=config, featured=featured)
    imgs = list(doc(r.html).iter("img"))
    assert len(imgs) == 3
    alts = [img.get("alt") for img in imgs]
    assert alts == [SITE["fr"][0], "Le port au lever du jour", "Sans légende"]
    for img in imgs:
        assert img.get("width", "").isdigit()
    # no pixel height: the image keeps its aspect ratio at every width (height:auto)
    assert [(i.get("width"), i.get("height")) for i in imgs[1:]] == [
        ("550", "auto"),
        ("300", "auto"),
    ]
    for img in imgs[1:]:
        style = img.get("style").replace(" ", "")
        assert "width:100%" in style and "height:auto" in style
    assert not [w for w in r.warnings if "Image" in w]


def test_markup_in_source_text_is_escaped():
    featured = [
        featured_story(
            title="Le <b>port</b> & la ville",
            paragraphs=("Un <script>alert(1)</script> paragraphe",),
        )
    ]
    ticker = [ticker_story(1, title="Titre <b>gras</b>")]
    r = render("fr", featured=featured, ticker=ticker, note="Note <i>penchée</i>")
    assert "Titre &lt;b&gt;gras&lt;/b&gt;" in r.html
    assert "Le &lt;b&gt;port&lt;/b&gt; &amp; la ville" in r.html
    assert "<b>" not in r.html and "<i>" not in r.html and "<script" not in r.html
    assert "Titre <b>gras</b>" in r.text  # the text part is plain text: no escaping


def test_sanitized_summary_html_is_used_when_no_paragraphs():
    story = featured_story(paragraphs=(), summary_html="<p>Un <strong>résumé</strong> sûr</p>")
    r = render("fr", featured=[story])
    assert "<strong>résumé</strong>" in r.html
    assert "Un résumé sûr" in r.text and "<strong>" not in r.text


def test_featured_story_is_a_lede_by_default():
    paragraphs = [f"Paragraphe {i} : " + "texte " * 60 for i in range(25)]
    r = render("fr", featured=[featured_story(paragraphs=paragraphs)])
    root = doc(r.html)
    [lede] = by_class(root, "dg-story")[0].findall("p")
    # about 300 characters, cut at a word end, with an ellipsis
    assert lede.text_content().startswith("Paragraphe 0\u00a0: texte")  # French spacing
    assert lede.text_content().endswith(" texte…") and 280 < len(lede.text_content()) <= 301
    assert "Paragraphe 1\u00a0:" not in r.html and "Paragraphe 1\u00a0:" not in r.text
    headline_only = render(
        "fr",
        config=make_config("fr", featured_paragraphs=0),
        featured=[featured_story(paragraphs=paragraphs)],
    )
    assert not by_class(doc(headline_only.html), "dg-story")[0].findall("p")
    assert "Lire la suite" in headline_only.html


def test_featured_paragraphs_setting_keeps_more():
    paragraphs = [f"Paragraphe {i} : " + "texte " * 30 for i in range(25)]
    r = render(
        "fr",
        config=make_config("fr", featured_paragraphs=25),
        featured=[featured_story(paragraphs=paragraphs)],
    )
    root = doc(r.html)
    assert len(by_class(root, "dg-story")[0].findall("p")) == 25
    for i in range(25):
        assert f"Paragraphe {i}\u00a0:" in r.text


def test_featured_title_link_read_more_and_unlinked_story():
    stories = [featured_story(), featured_story(title="Sans lien", url=None, image=None)]
    r = render("fr", featured=stories)
    root = doc(r.html)
    titles = by_class(root, "dg-title")
    assert titles[0].find("a").get("href") == "https://www.example.ma/une/port"
    assert titles[1].find("a") is None and titles[1].text_content() == "Sans lien"
    read_more = [a for a in root.iter("a") if a.text_content() == "Lire la suite"]
    # a story without a link sends the reader to the site
    assert [a.get("href") for a in read_more] == [
        "https://www.example.ma/une/port",
        "https://www.example.ma",
    ]


def test_ticker_times_in_site_timezone_and_locale():
    utc = datetime(2025, 7, 1, 6, 34, tzinfo=UTC)  # 07:34 in Casablanca (UTC+1)
    item = ticker_story(0, title="Séisme", published_at=utc)
    fr = doc(render("fr", ticker=[item]).html)
    assert by_class(fr, "dg-time")[0].text_content() == "07:34"
    en = doc(render("en", ticker=[item]).html)
    assert by_class(en, "dg-time")[0].text_content().replace("\u202f", " ") == "7:34 AM"
    headline = by_class(fr, "dg-headline")[0].find("a")
    assert headline.get("href") == "https://www.example.ma/depeche/0?src=digest&n=0"


def test_ticker_item_without_url_or_time():
    r = render("fr", ticker=[ticker_story(0, title="Brève sans lien", url=None, published_at=None)])
    root = doc(r.html)
    assert by_class(root, "dg-headline")[0].find("a") is None
    assert by_class(root, "dg-time")[0].text_content() == ""


def test_editor_note_sits_under_the_header():
    r = render("fr", note="Bonne lecture à tous.\n\nÀ demain.")
    html = r.html
    assert html.index("Le mot de la rédaction") < html.index("À la une")
    assert html.index("dg-site") < html.index("Bonne lecture à tous.")
    assert "À demain." in html
    assert "Le mot de la rédaction" not in render("fr").html


def test_media_queries_and_important_survive_inlining():
    r = render("fr")
    assert "@media only screen and (max-width: 479px)" in r.html
    assert ".dg-title { font-size: 21px !important; }" in r.html
    assert re.search(r"\.mj-column-per-100 \{ width:100% !important;", r.html)


def test_styles_are_inlined_on_classed_elements():
    root = doc(render("fr").html)
    for name, rule in [
        ("dg-time", "white-space:nowrap"),
        ("dg-title", "font-size:24px"),
        ("dg-headline", "border-bottom:1px solid #eee8dc"),
        ("dg-foot", "font-size:14px"),
        ("dg-heading", "text-transform:uppercase"),
    ]:
        elements = by_class(root, name)
        assert elements, name
        for el in elements:
            assert rule in (el.get("style") or ""), (name, el.get("style"))
    # layout tables are presentation tables
    tables = list(root.iter("table"))
    assert tables and all(t.get("role") == "presentation" for t in tables)


def test_responsive_600px_body():
    r = render("fr")
    assert "max-width:600px" in r.html
    assert 'width="600"' in r.html
