from datetime import datetime

import httpx

import digest.sources as sources
from digest.config import DEFAULT_BOILERPLATE, SourceConfig, source_from_location
from digest.sources import Fetcher, MemoryFeedCache, read_source, read_sources

from .conftest import CASABLANCA, FIXTURES, REFERENCE, ROOT

SITE = "https://www.site.example/"
PAGES = FIXTURES / "pages"


def serve(routes: dict[str, tuple[int, bytes, dict]], cache=None) -> Fetcher:
    def handler(request):
        status, body, headers = routes.get(str(request.url), (404, b"", {}))
        return httpx.Response(status, content=body, headers=headers)

    return Fetcher("digest-test", transport=httpx.MockTransport(handler), cache=cache)


def read(cfg, fetcher=None, reference=REFERENCE):
    return read_source(
        cfg, reference_time=reference, tz=CASABLANCA, site_url=SITE, fetcher=fetcher or serve({})
    )


def test_sample_dump_from_the_command_line_is_detected_and_read():
    result = read(source_from_location(str(ROOT / "samples" / "homepage-fr.txt")))
    assert result.ok and result.name == "homepage-fr.txt"
    assert [s.role for s in result.stories].count("ticker") == 9
    assert [s.role for s in result.stories].count("featured") == 1


def test_feed_over_http_resolves_links_against_its_final_url():
    body = (FIXTURES / "feeds" / "atom-relative-url.xml").read_bytes()
    fetcher = serve(
        {
            "https://blog.example/feed": (
                301,
                b"",
                {"location": "https://blog.example/b/atom.xml"},
            ),
            "https://blog.example/b/atom.xml": (
                200,
                body,
                {"content-type": "application/atom+xml"},
            ),
        }
    )
    result = read(
        SourceConfig(name="blog", kind="auto", location="https://blog.example/feed"), fetcher
    )
    assert result.ok
    assert result.stories[0].url == "https://blog.example/2024/12/18/What-The-Distribution.html"


def test_local_feed_resolves_relative_links_against_the_site():
    cfg = source_from_location(str(FIXTURES / "feeds" / "atom-relative-url.xml"))
    result = read(cfg)
    assert result.stories[0].url == "https://www.site.example/2024/12/18/What-The-Distribution.html"


def test_configured_page_source_with_role_filter():
    cfg = SourceConfig(
        name="home",
        kind="page",
        location=str(PAGES / "news.html"),
        role="featured",
        selectors={
            "ticker_item": "ul.ticker > li",
            "ticker_time": ".time",
            "featured": "div.featured",
            "featured_title": "h2",
        },
    )
    result = read(cfg)
    assert [s.role for s in result.stories] == ["featured", "featured"]
    assert any("ignored 6 story(ies) that are not 'featured'" in w for w in result.warnings)


def test_text_source_over_http_with_declared_charset():
    body = "- 07:00Café\nÉté\nParagraphe.\n".encode("cp1252")
    fetcher = serve(
        {
            "https://s.example/dump.txt": (
                200,
                body,
                {"content-type": "text/plain; charset=windows-1252"},
            )
        }
    )
    cfg = SourceConfig(
        name="dump",
        kind="text",
        location="https://s.example/dump.txt",
        boilerplate=DEFAULT_BOILERPLATE,
    )
    result = read(cfg, fetcher)
    assert [s.title for s in result.stories] == ["Café", "Été"]


def test_failures_are_one_sentence_errors():
    fetcher = serve({"https://down.example/feed": (500, b"oops", {})})
    down = read(
        SourceConfig(name="latest", kind="rss", location="https://down.example/feed"), fetcher
    )
    assert down.error == (
        "Source 'latest': https://down.example/feed returned HTTP 500 Internal Server Error."
    )
    missing = read(SourceConfig(name="gone", kind="text", location="/nonexistent/dump.txt"))
    assert missing.error == "Source 'gone': file not found: /nonexistent/dump.txt."
    empty = read(source_from_location(str(FIXTURES / "text" / "empty.txt")))
    assert empty.error.startswith("Source 'empty.txt' is empty (")
    bad_css = read(
        SourceConfig(
            name="css",
            kind="page",
            location=str(PAGES / "news.html"),
            selectors={"ticker_item": "li[[["},
        )
    )
    assert bad_css.error.startswith("Source 'css': selector ticker_item = 'li[[[' is not valid")
    for result in (down, missing, empty, bad_css):
        assert result.stories == () and "\n" not in result.error


def test_wrong_kind_is_reported_not_raised():
    cfg = SourceConfig(name="oops", kind="rss", location=str(ROOT / "samples" / "homepage-fr.txt"))
    result = read(cfg)
    assert not result.ok and result.error.startswith("Source 'oops' is not")


def test_unexpected_parser_failure_becomes_an_error(monkeypatch):
    def explode(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(sources, "parse_feed", explode)
    cfg = source_from_location(str(FIXTURES / "feeds" / "rdf-feed-test.xml"))
    result = read(cfg)
    assert result.error == (
        "Source 'rdf-feed-test.xml' could not be read as an RSS/Atom feed: "
        "RecursionError: maximum recursion depth exceeded."
    )


def test_naive_reference_time_is_taken_in_the_site_zone():
    cfg = source_from_location(str(ROOT / "samples" / "homepage-fr.txt"))
    result = read(cfg, reference=datetime(2025, 7, 1, 8, 0))
    assert result.stories[0].published_at.isoformat() == "2025-07-01T07:34:00+01:00"


def test_read_sources_keeps_order_and_failures_and_uses_the_cache():
    body = (FIXTURES / "feeds" / "feed-test-source.xml").read_bytes()
    calls = []

    def handler(request):
        calls.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"1"':
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={"etag": '"1"'})

    fetcher = Fetcher("t", transport=httpx.MockTransport(handler), cache=MemoryFeedCache())
    configs = [
        SourceConfig(name="une", kind="rss", location="https://news.example/une", role="featured"),
        SourceConfig(name="broken", kind="text", location="/nonexistent"),
        SourceConfig(name="une-again", kind="auto", location="https://news.example/une"),
    ]
    results = read_sources(
        configs, reference_time=REFERENCE, tz=CASABLANCA, site_url=SITE, fetcher=fetcher
    )
    assert [r.name for r in results] == ["une", "broken", "une-again"]
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].stories[0].role == "featured" and results[2].stories[0].role == "ticker"
    assert results[0].stories[0].title == results[2].stories[0].title
    assert calls == [None, '"1"']  # the second read was a conditional GET answered 304
