from datetime import UTC, datetime

import pytest

from digest.sources.rss import parse_feed, sanitize_summary

from .conftest import CASABLANCA, FIXTURES

REAL_FEEDS = sorted((FIXTURES / "feeds").glob("*.xml"))
BASE = "https://feeds.example.org/dir/feed.xml"


def parse(path, base=BASE, **kw):
    kw.setdefault("tz", CASABLANCA)
    return parse_feed(path.read_bytes(), name=path.stem, base_url=base, **kw)


def feed(name, **kw):
    return parse(FIXTURES / "feeds" / name, **kw)


def own(name, **kw):
    return parse(FIXTURES / "rss" / name, **kw)


def test_all_thirteen_real_world_feeds_are_present():
    assert len(REAL_FEEDS) == 13


@pytest.mark.parametrize("path", REAL_FEEDS, ids=lambda p: p.name)
def test_every_real_world_feed_yields_sound_stories(path):
    result = parse(path)
    assert result.ok, result.error
    assert result.stories, result.warnings
    for story in result.stories:
        assert story.title and story.title == story.title.strip()
        assert "<" not in story.title or ">" not in story.title
        assert story.role == "ticker" and story.source == path.stem
        assert story.url is None or story.url.startswith(("http://", "https://"))
        assert story.published_at is None or story.published_at.utcoffset().total_seconds() == 0
        for text in story.paragraphs:
            assert text and text == " ".join(text.split())
        if story.summary_html:
            lowered = story.summary_html.lower()
            assert "<img" not in lowered and "<script" not in lowered and "style=" not in lowered
    undated = sum(s.published_at is None for s in result.stories)
    if undated:
        assert any("no date" in w for w in result.warnings)


def test_relative_url_resolved_against_the_feed_url():
    result = feed("atom-relative-url.xml")
    [story] = result.stories
    assert story.url == "https://feeds.example.org/2024/12/18/What-The-Distribution.html"
    assert story.title == "What The Distribution - What Is Inside Gradle Distribution Zips?"
    assert story.published_at == datetime(2024, 12, 18, tzinfo=UTC)


def test_xml_base_wins_over_the_feed_url():
    [story] = feed("feed-test-time.xml").stories
    assert story.url.startswith("http://www.fda.gov/safety/recalls-market-withdrawals")
    # pubDate holding a <time datetime> element: the attribute is the date
    assert story.published_at == datetime(2019, 5, 3, 19, 21, 28, tzinfo=UTC)
    assert story.title.startswith(
        "Vivimed Life Sciences Pvt Ltd Issues Voluntary Nationwide "
        "Recall of Losartan Potassium 25 mg"
    )
    assert "\n" not in story.title and "  " not in story.title


def test_charsets_decoded_correctly():
    [story] = feed("feed-test-charset.xml").stories
    assert story.title == "Høydepunkter fra 2022 - nr.11"
    [latin] = own("latin1.xml").stories
    assert latin.title == "L'été à Marrakech : « chaleur » record"
    assert latin.paragraphs == ("Café crème et crêpe.",)
    [orf] = feed("rdf-feed-test.xml").stories
    assert orf.title == "Kiew erneut Ziel russischer Drohnenangriffe"


def test_rdf_items_and_dc_date():
    [story] = feed("rdf-feed-test.xml").stories
    assert story.url == "https://orf.at/stories/3380633/"
    assert story.published_at == datetime(2025, 1, 3, 9, 14, 24, tzinfo=UTC)  # 10:14:24+01:00
    [reporterre] = feed("feed-dcdate.xml").stories
    assert reporterre.published_at == datetime(2025, 2, 26, 16, 42, 45, tzinfo=UTC)


def test_media_content_image_found_and_typed_non_images_ignored():
    result = feed("feed-media-content-type.xml")
    images = {s.title: s.image for s in result.stories}
    assert images["Image with type and medium"].url == "https://example.com/images/photo.jpg"
    assert (
        images["Image with type and medium"].width,
        images["Image with type and medium"].height,
    ) == (640, 480)
    assert images["Image with type and medium"].alt == "Image with type and medium"
    assert images["No type or medium"].url == "https://example.com/images/untyped.jpg"
    for title in (
        "Non-image archive file",
        "Video with medium",
        "Audio with medium",
        "Document medium",
    ):
        assert images[title] is None, title
    assert result.warnings == ("6 of 6 item(s) have no date; they are treated as current",)
    assert all(s.published_at is None for s in result.stories)


def test_media_content_in_a_real_feed():
    [story] = feed("feed-dcdate.xml").stories
    assert story.image.url.startswith("https://reporterre.net/local/cache-vignettes/L700xH467/")
    assert (story.image.width, story.image.height) == (700, 467)


def test_enclosures_and_thumbnails():
    result = own("media.xml")
    images = {s.title: s.image for s in result.stories}
    assert images["Typed enclosure"].url == "https://media.example.com/img/a.jpg"
    assert images["Untyped enclosure with an image extension"].url == (
        "https://feeds.example.org/img/b.PNG"
    )  # relative enclosure resolved
    assert images["Audio enclosure is not an image"] is None
    thumb = images["Thumbnail only"]
    assert (thumb.url, thumb.width, thumb.height) == (
        "https://media.example.com/img/d-thumb.jpg",
        320,
        None,
    )  # "180px" is not an int
    assert images["Described media content"].url == "https://media.example.com/img/e.webp"


def test_undated_untitled_and_empty_items():
    result = own("media.xml")
    titles = [s.title for s in result.stories]
    assert "No date at all" in titles
    undated = next(s for s in result.stories if s.title == "No date at all")
    assert undated.published_at is None
    borrowed = titles[-1]
    assert borrowed.startswith("An item with no title borrows the beginning of its text")
    assert borrowed.endswith("…") and len(borrowed) <= 121
    assert result.warnings == (
        "skipped 1 item(s) with neither a title nor any text",
        "1 of 7 item(s) have no date; they are treated as current",
    )
    # dc:date with an offset ends up in UTC
    untyped = next(s for s in result.stories if s.title.startswith("Untyped enclosure"))
    assert untyped.published_at == datetime(2025, 7, 1, 6, 15, tzinfo=UTC)


def test_numeric_date_without_zone_is_read_in_the_site_zone():
    [story] = feed("feed-image-enclosure.xml", tz=CASABLANCA).stories
    assert story.published_at == datetime(2022, 11, 22, 11, 16, tzinfo=UTC)  # 12:16 +01:00
    assert story.title == "Podpora udržitelné aktivní mobility a nástroje práce s veřejností"


def test_emoji_kept():
    [first, *_] = own("hostile.xml").stories
    assert "🚀" in first.title
    assert first.paragraphs[0] == "Intro 🚀 text"
    assert "🚀" in first.summary_html


def test_hostile_descriptions_are_neutralized():
    first, second, third = own("hostile.xml", base="https://news.example.com/feed.xml").stories
    assert first.title == "Rocket launch 🚀 today"  # double-escaped <b> stripped
    assert first.url is None  # javascript: link dropped
    html = first.summary_html
    for bad in (
        "script",
        "alert",
        "onerror",
        "onclick",
        "onmouseover",
        "style",
        "<img",
        "iframe",
        "javascript:",
        "data:",
        "display:none",
    ):
        assert bad not in html, bad
    assert '<a href="https://news.example.com/local/page" rel="noopener noreferrer">' in html
    assert '<a href="mailto:desk@example.com" rel="noopener noreferrer">mail</a>' in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert first.paragraphs == (
        "Intro 🚀 text",
        "bad link data link relative link mail",
        "one",
        "two",
    )
    assert second.url == "https://news.example.com/2025/07/01/second.html"
    assert second.summary_html == "<b>Bold</b> and plain"
    assert second.published_at == datetime(2025, 7, 1, 4, 0, tzinfo=UTC)
    assert third.url is None  # data: link dropped


def test_sanitizer_allowlist_directly():
    dirty = (
        '<h1>Head</h1><p onclick="x()">A <em>b</em> <strong>c</strong> <i>d</i></p>'
        '<blockquote>q</blockquote><a href="https://ok.example/" target="_blank" '
        'rel="opener">ok</a><a href="vbscript:x">v</a><table><tr><td>cell</td></tr></table>'
        '<img src="https://x/y.png"><script>alert(1)</script><!-- comment -->'
    )
    clean = sanitize_summary(dirty, None)
    assert clean == (
        "Head<p>A <em>b</em> <strong>c</strong> <i>d</i></p><blockquote>q</blockquote>"
        '<a href="https://ok.example/" rel="noopener noreferrer">ok</a>'
        '<a rel="noopener noreferrer">v</a>cell'
    )
    assert sanitize_summary('<a href="/x">rel</a>', None) == '<a rel="noopener noreferrer">rel</a>'
    assert sanitize_summary("<img src='x'><script>only</script>", None) is None
    assert sanitize_summary("", None) is None


def test_escaped_content_and_mismatched_tags_do_not_crash():
    [story] = feed("feed-escape-malformed.xml").stories
    assert story.title == "augurs"
    assert story.paragraphs[0] == "https://github.com/grafana/augurs"
    assert story.paragraphs[-1].startswith("To be honest, I don't much understand the demo.")
    assert '<a href="https://github.com/grafana/augurs" rel="noopener noreferrer">' in (
        story.summary_html
    )
    [lucas] = feed("feed-mismatched-html-tags.xml").stories
    assert "<em>Death By Scrolling</em>" in lucas.summary_html
    assert lucas.paragraphs[0].startswith("L'Ordine dei Giganti: è arrivato il DLC di Indy")


def test_blank_lines_before_the_xml_declaration_are_tolerated():
    result = feed("feed-test-malformed.xml")
    assert result.ok and result.warnings == ()
    [story] = result.stories
    assert story.title == "Japan’s plans for 5G include 10 billion 14-digit phone numbers"
    assert story.image.url.endswith("Whats-next-with-5g--500x260.jpg")
    assert len(story.paragraphs) > 5  # content:encoded is richer than the description
    assert story.summary_html == (
        "Japan expects a huge surge of 5G-enabled devices to hit the market in the future."
    )


def test_truncated_feed_keeps_recovered_items_with_a_warning():
    result = own("truncated.xml")
    assert result.ok
    assert [s.title for s in result.stories] == ["First complete item", "Second complete item"]
    assert result.warnings[0].startswith("the feed is not well-formed XML (")
    assert "2 item(s) were recovered" in result.warnings[0]


def test_unreadable_feeds_are_errors_not_exceptions():
    garbage = own("not-a-feed.xml")
    assert not garbage.ok and garbage.stories == ()
    assert garbage.error.startswith("Source 'not-a-feed' is not a readable feed:")
    other_xml = own("no-channel.xml")
    assert other_xml.error == (
        "Source 'no-channel' is not an RSS or Atom feed (no channel or feed element found)."
    )


def test_feed_without_items_is_ok_with_a_warning():
    result = own("empty-channel.xml")
    assert result.ok and result.stories == ()
    assert result.warnings == ("the feed 'empty-channel' has no items",)


def test_role_comes_from_the_source():
    result = own("latin1.xml", role="featured")
    assert [s.role for s in result.stories] == ["featured"]


def test_text_xml_without_charset_is_not_forced_to_ascii():
    result = own("latin1.xml", content_type="text/xml")
    assert result.ok and result.warnings == ()
    assert result.stories[0].title == "L'été à Marrakech : « chaleur » record"
    utf8 = feed("feed-test-charset.xml", content_type="text/xml")
    assert utf8.warnings == () and utf8.stories[0].title == "Høydepunkter fra 2022 - nr.11"
