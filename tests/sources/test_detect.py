import codecs

import pytest

from digest.sources.detect import detect_kind

from .conftest import FIXTURES, ROOT

REAL_FEEDS = sorted((FIXTURES / "feeds").glob("*.xml"))


@pytest.mark.parametrize("path", REAL_FEEDS, ids=lambda p: p.name)
def test_every_real_world_feed_is_detected_as_rss(path):
    assert detect_kind(path.read_bytes(), None) == "rss"


@pytest.mark.parametrize("name", ["news.html", "hostile.html", "default.html", "nothing.html"])
def test_html_fixtures_are_pages(name):
    assert detect_kind((FIXTURES / "pages" / name).read_bytes(), None) == "page"


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "samples" / "homepage-fr.txt",
        FIXTURES / "homepage-ar.txt",
        FIXTURES / "text" / "midnights.txt",
    ],
    ids=lambda p: p.name,
)
def test_text_dumps_are_text(path):
    assert detect_kind(path.read_bytes(), None) == "text"


def test_content_wins_over_a_wrong_content_type():
    dump = (ROOT / "samples" / "homepage-fr.txt").read_bytes()
    assert detect_kind(dump, "text/html; charset=utf-8") == "text"
    feed = (FIXTURES / "feeds" / "feed-test-source.xml").read_bytes()
    assert detect_kind(feed, "text/html") == "rss"
    page = b"<!DOCTYPE html><html><body>error page</body></html>"
    assert detect_kind(page, "application/rss+xml") == "page"


@pytest.mark.parametrize(
    "body",
    [
        codecs.BOM_UTF8 + b'<?xml version="1.0"?>\n<!-- generated -->\n<rss version="2.0"/>',
        b'\n\n\n   <?xml version="1.0"?><?xml-stylesheet href="s.xsl"?><feed xmlns="x"/>',
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd"><rss/>',
        b'<!DOCTYPE doc [ <!ENTITY e "x"> ]><rdf:RDF xmlns:rdf="r"/>',
        '<?xml version="1.0" encoding="utf-16"?><feed/>'.encode("utf-16"),
    ],
    ids=["bom-decl-comment", "blank-lines-and-pi", "rss-doctype", "doctype-subset", "utf-16"],
)
def test_feed_prologues_are_skipped(body):
    assert detect_kind(body, None) == "rss"


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype HTML><title>x</title>",
        b"<!-- comment --><html lang='fr'>",
        b"   <head><meta charset='utf-8'></head>",
    ],
)
def test_html_starts(body):
    assert detect_kind(body, None) == "page"


def test_unknown_root_asks_the_content_type():
    fragment = b"<section><p>hello</p></section>"
    assert detect_kind(fragment, "text/html") == "page"
    assert detect_kind(b"<items><item/></items>", "application/xml") == "rss"
    assert detect_kind(b"<items><item/></items>", None) == "text"
    # Some other XML document goes to the feed reader, which can say it is not a feed.
    assert detect_kind((FIXTURES / "rss" / "no-channel.xml").read_bytes(), None) == "rss"


def test_literal_markup_in_a_text_dump_stays_text():
    assert detect_kind(b"<b> is how the CMS writes bold\n- 07:00Title", None) == "text"
    assert detect_kind(b"", None) == "text"
    assert detect_kind(b"- 07:34Titre", "application/rss+xml") == "text"
