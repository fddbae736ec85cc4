from datetime import datetime

import pytest

from digest.errors import SourceError
from digest.sources.page import parse_page

from .conftest import CASABLANCA, FIXTURES, REFERENCE

SELECTORS = {
    "ticker_item": "ul.ticker > li",
    "ticker_time": ".time",
    "featured": "div.featured",
    "featured_title": "h2",
    "featured_paragraphs": ".body p",
    "featured_image": "figure",
}
PAGE_URL = "https://www.quotidien.example/index.html"


def parse(name, selectors=SELECTORS, page_url=PAGE_URL, site_url="https://site.example/", **kw):
    body = (FIXTURES / "pages" / name).read_bytes() if isinstance(name, str) else name
    return parse_page(
        body,
        name="page",
        page_url=page_url,
        site_url=site_url,
        reference_time=REFERENCE,
        tz=CASABLANCA,
        selectors=selectors,
        **kw,
    )


def test_ticker_items_with_selectors():
    result = parse("news.html")
    ticker = [s for s in result.stories if s.role == "ticker"]
    assert [(s.title, s.url) for s in ticker] == [
        (
            "L’économie maintient son élan 📈",
            "https://www.quotidien.example/actu/economie/croissance-2025",
        ),  # against <base href>
        (
            "Vague de chaleur : <b>record</b> & alertes",  # literal text, not markup
            "https://www.quotidien.example/societe/chaleur",
        ),
        ("E-visa : un catalyseur", "https://www.quotidien.example/tourisme/e-visa"),
        ("Audit public : coopération Sud-Sud", "https://www.quotidien.example/actu/cooperation"),
        ("Conseil de gouvernement sans lien", None),  # no link: item text minus its time
        ("Une brève sans heure", "https://www.quotidien.example/actu/sans-heure"),
    ]
    assert [s.published_at.isoformat() if s.published_at else None for s in ticker] == [
        "2025-07-01T07:34:00+01:00",
        "2025-07-01T07:30:00+01:00",
        "2025-07-01T06:55:00+01:00",  # from the datetime attribute
        "2025-06-30T19:00:00+01:00",  # midnight crossed backwards, like the text dump
        "2025-06-30T18:32:00+01:00",
        None,  # no time in it
    ]
    assert "dropped 1 repeated ticker item(s)" in result.warnings
    assert "skipped 2 matched element(s) with no title text" in result.warnings


def test_several_featured_containers():
    result = parse("news.html")
    first, second = [s for s in result.stories if s.role == "featured"]
    assert first.title == "Le Maroc et la France renforcent leur coopération"
    assert first.url == "https://www.quotidien.example/actu/maroc-france"
    assert first.paragraphs == (
        "Un nouveau jalon vient d’être posé.",
        "Ce plan vise à structurer le partenariat.",
    )
    assert first.image.url == "https://www.quotidien.example/img/rabat.jpg"  # data-src wins
    assert (first.image.alt, first.image.width, first.image.height) == (
        "La délégation à Rabat",
        640,
        360,
    )
    assert first.published_at == REFERENCE
    assert second.title == "Deuxième sujet : l’eau" and second.url is None
    assert second.image.url == "https://www.quotidien.example/actu/images/barrage.png"
    assert second.image.alt == "Deuxième sujet : l’eau"  # empty alt: the title
    assert second.paragraphs == ("Les barrages sont à 40 %.",)


def test_featured_title_alone_makes_the_page_one_story():
    result = parse(
        "news.html", selectors={"featured_title": "main h2", "featured_paragraphs": "main .body p"}
    )
    [story] = result.stories
    assert story.title == "Le Maroc et la France renforcent leur coopération"
    assert len(story.paragraphs) == 3


def test_hostile_page_gives_plain_text_and_safe_links_only():
    result = parse("hostile.html")
    ticker = [s for s in result.stories if s.role == "ticker"]
    assert [(s.title, s.url) for s in ticker] == [
        ("Click me", None),
        ("Tab trick", None),
        ("Upper case", None),
        ("Data link", None),
        ("Protocol relative", "https://cdn.example.org/ok"),
        ("Relative link", "https://www.quotidien.example/relative"),  # javascript: <base> ignored
    ]
    [featured] = [s for s in result.stories if s.role == "featured"]
    assert featured.title == "Hostile featured"
    assert featured.image is None
    assert featured.paragraphs == (
        "Text with markup <script>alert(10)</script> escaped.",  # was text in the page
        "Visible.",
    )
    everything = " ".join(
        [s.title for s in result.stories] + [p for s in result.stories for p in s.paragraphs]
    )
    for bad in (
        "pwned",
        "hidden comment",
        "noscript text",
        "svg text",
        "iframe text",
        "template text",
        "alert(3)",
        "background",
    ):
        assert bad not in everything, bad


def test_default_selectors_for_common_markup():
    result = parse("default.html", selectors=None, page_url="https://blog.example.net/")
    assert result.ok and result.warnings == ()
    assert [(s.role, s.title, s.url) for s in result.stories] == [
        ("ticker", "First post ✨", "https://blog.example.net/posts/first"),
        ("ticker", "Second post", "https://blog.example.net/posts/second"),
        ("ticker", "Third, no heading", "https://blog.example.net/posts/third"),
    ]
    assert result.stories[0].published_at.isoformat() == "2025-07-01T07:00:00+01:00"
    assert result.stories[1].published_at.isoformat() == "2025-06-30T00:00:00+01:00"
    assert result.stories[2].published_at is None


def test_default_selectors_matching_nothing_warn():
    result = parse("nothing.html", selectors=None)
    assert result.ok and result.stories == ()
    assert result.warnings == (
        "no element matched ticker_item 'article'",
        "the page gave no stories (default selectors; configure [sources.selectors] for this page)",
    )


def test_local_page_resolves_against_the_site_url():
    body = b'<html><body><article><h2><a href="/a">A</a></h2></article></body></html>'
    result = parse(body, selectors=None, page_url=None, site_url="https://www.site.ma/")
    assert result.stories[0].url == "https://www.site.ma/a"
    nothing = parse(body, selectors=None, page_url=None, site_url=None)
    assert nothing.stories[0].url is None


def test_charset_from_meta_and_from_header():
    html = (
        "<html><head><meta charset='windows-1256'></head><body><article><h2>عاجل: خبر</h2>"
        "</article></body></html>"
    )
    result = parse(html.encode("cp1256"), selectors=None)
    assert result.stories[0].title == "عاجل: خبر"
    latin = "<article><h2>Été brûlant</h2></article>".encode("latin-1")
    result = parse(latin, selectors=None, content_type="text/html; charset=ISO-8859-1")
    assert result.stories[0].title == "Été brûlant" and result.warnings == ()


def test_invalid_selector_is_a_source_error_naming_the_key():
    with pytest.raises(SourceError, match="ticker_item"):
        parse("news.html", selectors={"ticker_item": "li[[["})


def test_unknown_selector_keys_are_reported():
    result = parse("news.html", selectors={**SELECTORS, "tikcer_title": "a"})
    assert "unknown selector key(s) ignored: tikcer_title" in result.warnings


def test_time_attribute_without_offset_is_site_time_and_anchors_following_clocks():
    body = b"""<ul>
      <li><time datetime="2025-06-30T23:50">23:50</time><a href="https://x.example/1">One</a></li>
      <li><span class="t">23:40</span><a href="https://x.example/2">Two</a></li>
    </ul>"""
    result = parse(body, selectors={"ticker_item": "li", "ticker_time": "time, .t"})
    assert [s.published_at for s in result.stories] == [
        datetime.fromisoformat("2025-06-30T23:50:00+01:00"),
        datetime.fromisoformat("2025-06-30T23:40:00+01:00"),
    ]


def test_deeply_nested_markup_does_not_blow_the_stack():
    def nested(depth):
        return (
            b"<article><h2>"
            + b"<span>" * depth
            + b"Deep"
            + b"</span>" * depth
            + b"</h2><a href='https://x.example/'>link</a></article>"
        )

    assert [s.title for s in parse(nested(200), selectors=None).stories] == ["Deep"]
    # libxml2 stops building the tree at its depth limit; what is left must not crash us
    result = parse(nested(5000), selectors=None)
    assert result.ok
