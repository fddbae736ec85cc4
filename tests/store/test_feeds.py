"""The SQL feed cache against the fetcher's CachedFeed type."""

from digest.models import CachedFeed
from digest.store.db import open_database
from digest.store.feeds import SqlFeedCache

URL = "https://www.example.com/rss/latest.xml"


def test_round_trip_returns_the_fetchers_cachedfeed(db):
    cache = SqlFeedCache(db)
    assert cache.get(URL) is None
    body = "<rss><title>À la une — الأخبار</title></rss>".encode() + b"\x00\xff"
    cache.put(
        URL,
        etag='W/"abc"',
        last_modified="Tue, 01 Jul 2025 06:00:00 GMT",
        body=body,
        content_type="application/rss+xml; charset=utf-8",
    )
    assert cache.get(URL) == CachedFeed(
        etag='W/"abc"',
        last_modified="Tue, 01 Jul 2025 06:00:00 GMT",
        body=body,
        content_type="application/rss+xml; charset=utf-8",
    )


def test_put_replaces_every_field(db):
    cache = SqlFeedCache(db)
    cache.put(
        URL,
        etag='"1"',
        last_modified="Mon, 30 Jun 2025 06:00:00 GMT",
        body=b"old",
        content_type="text/xml",
    )
    cache.put(URL, etag=None, last_modified=None, body=b"new", content_type=None)
    assert cache.get(URL) == CachedFeed(
        etag=None, last_modified=None, body=b"new", content_type=None
    )
    cache.put(
        "https://www.example.com/other",
        etag='"2"',
        last_modified=None,
        body=b"",
        content_type="text/html",
    )
    assert cache.get(URL).body == b"new"
    assert cache.get("https://www.example.com/other").body == b""
    assert cache.delete(URL) is True and cache.get(URL) is None
    assert cache.delete(URL) is False


def test_entries_survive_reopening_the_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    db = open_database(url)
    SqlFeedCache(db).put(
        URL, etag='"e"', last_modified=None, body=b"x" * 200_000, content_type="text/xml"
    )
    db.close()
    db = open_database(url)
    try:
        cached = SqlFeedCache(db).get(URL)
        assert cached.etag == '"e"' and cached.body == b"x" * 200_000
    finally:
        db.close()
