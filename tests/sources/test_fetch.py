import gzip
import http.server
import threading
import time

import httpx
import pytest

from digest.config import SourceConfig
from digest.errors import SourceError
from digest.models import CachedFeed
from digest.sources.fetch import Fetcher, MemoryFeedCache, read_file, read_location

from .conftest import FIXTURES

FEED = (FIXTURES / "feeds" / "feed-test-source.xml").read_bytes()
URL = "https://news.example.com/feed.xml"


def fetcher(handler, **kw):
    return Fetcher("digest-test/1.0", transport=httpx.MockTransport(handler), **kw)


def test_ok_response_sends_user_agent_and_returns_body():
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return httpx.Response(200, content=FEED, headers={"content-type": "application/rss+xml"})

    got = fetcher(handler).fetch(URL, timeout=5, max_bytes=1_000_000)
    assert got.body == FEED and got.content_type == "application/rss+xml"
    assert got.final_url == URL and got.from_cache is False
    assert seen["user-agent"] == "digest-test/1.0"
    assert "application/rss+xml" in seen["accept"]


def test_redirects_are_followed_and_bounded():
    def handler(request):
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "/new"})
        if request.url.path == "/loop":
            return httpx.Response(302, headers={"location": "/loop"})
        return httpx.Response(200, content=b"ok")

    f = fetcher(handler)
    got = f.fetch("https://a.example/old", timeout=5, max_bytes=100)
    assert got.body == b"ok" and got.final_url == "https://a.example/new"
    with pytest.raises(SourceError, match=r"https://a.example/loop redirected more than 5 times"):
        f.fetch("https://a.example/loop", timeout=5, max_bytes=100)


def test_redirect_to_another_scheme_is_a_source_error():
    def handler(request):
        return httpx.Response(302, headers={"location": "ftp://files.example/feed"})

    with pytest.raises(SourceError) as info:
        fetcher(handler).fetch(URL, timeout=5, max_bytes=100)
    assert str(info.value) == (
        f"{URL} redirected to 'ftp://files.example/feed', which is not an http(s) URL"
    )


def test_conditional_get_uses_the_cache_on_304():
    cache = MemoryFeedCache()
    requests = []

    def handler(request):
        requests.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(
            200,
            content=FEED,
            headers={
                "content-type": "application/rss+xml; charset=utf-8",
                "etag": '"v1"',
                "last-modified": "Tue, 01 Jul 2025 06:00:00 GMT",
            },
        )

    f = fetcher(handler, cache=cache)
    first = f.fetch(URL, timeout=5, max_bytes=1_000_000)
    assert first.from_cache is False
    assert cache.get(URL) == CachedFeed(
        '"v1"', "Tue, 01 Jul 2025 06:00:00 GMT", FEED, "application/rss+xml; charset=utf-8"
    )
    second = f.fetch(URL, timeout=5, max_bytes=1_000_000)
    assert second.from_cache is True
    assert second.body == FEED and second.content_type == "application/rss+xml; charset=utf-8"
    assert "if-none-match" not in requests[0].headers
    assert requests[1].headers["if-none-match"] == '"v1"'
    assert requests[1].headers["if-modified-since"] == "Tue, 01 Jul 2025 06:00:00 GMT"


def test_new_body_replaces_the_cached_one_and_no_validators_means_no_entry():
    cache = MemoryFeedCache()
    cache.put(URL, etag='"old"', last_modified=None, body=b"old", content_type=None)

    def handler(request):
        if request.url.path == "/plain":
            return httpx.Response(200, content=b"no validators")
        return httpx.Response(200, content=b"new", headers={"etag": '"new"'})

    f = fetcher(handler, cache=cache)
    assert f.fetch(URL, timeout=5, max_bytes=100).body == b"new"
    assert cache.get(URL).etag == '"new"' and cache.get(URL).body == b"new"
    f.fetch("https://news.example.com/plain", timeout=5, max_bytes=100)
    assert cache.get("https://news.example.com/plain") is None and len(cache) == 1


def test_unsolicited_304_is_an_error():
    with pytest.raises(SourceError, match="304 Not Modified"):
        fetcher(lambda r: httpx.Response(304)).fetch(URL, timeout=5, max_bytes=100)


def test_server_error_names_status_and_url():
    f = fetcher(lambda r: httpx.Response(500))
    with pytest.raises(SourceError) as info:
        f.fetch(URL, timeout=5, max_bytes=100)
    assert str(info.value) == f"{URL} returned HTTP 500 Internal Server Error"
    with pytest.raises(SourceError, match="returned HTTP 404 Not Found"):
        fetcher(lambda r: httpx.Response(404)).fetch(URL, timeout=5, max_bytes=100)


def test_size_cap_from_content_length_and_while_streaming():
    big = fetcher(lambda r: httpx.Response(200, content=b"x" * 2000))
    with pytest.raises(SourceError, match=r"larger than the 1,000-byte limit"):
        big.fetch(URL, timeout=5, max_bytes=1000)

    def chunks():
        for _ in range(100):
            yield b"y" * 100

    streamed = fetcher(lambda r: httpx.Response(200, content=chunks()))
    with pytest.raises(SourceError, match=r"larger than the 1,000-byte limit"):
        streamed.fetch(URL, timeout=5, max_bytes=1000)
    exact = fetcher(lambda r: httpx.Response(200, content=b"z" * 1000))
    assert len(exact.fetch(URL, timeout=5, max_bytes=1000).body) == 1000


def test_size_cap_counts_decompressed_bytes():
    bomb = gzip.compress(b"0" * 1_000_000)
    assert len(bomb) < 10_000
    f = fetcher(lambda r: httpx.Response(200, content=bomb, headers={"content-encoding": "gzip"}))
    with pytest.raises(SourceError, match="limit"):
        f.fetch(URL, timeout=5, max_bytes=50_000)


@pytest.mark.parametrize(
    "exc, message",
    [
        (httpx.ReadTimeout("slow"), f"{URL} timed out after 2.5 s"),
        (httpx.ConnectTimeout("slow"), f"{URL} timed out after 2.5 s"),
        (
            httpx.ConnectError("Name or service not known"),
            f"{URL} could not be fetched: ConnectError: Name or service not known",
        ),
        (
            httpx.RemoteProtocolError("peer closed connection"),
            f"{URL} could not be fetched: RemoteProtocolError: peer closed connection",
        ),
    ],
)
def test_network_failures_become_source_errors(exc, message):
    def handler(request):
        raise exc

    with pytest.raises(SourceError) as info:
        fetcher(handler).fetch(URL, timeout=2.5, max_bytes=100)
    assert str(info.value) == message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("url", ["https://", "ftp://files.example/x", "http://[::1", "feed.xml"])
def test_invalid_url_is_a_source_error(url):
    f = fetcher(lambda r: pytest.fail("must not be requested"))
    with pytest.raises(SourceError, match="is not an http\\(s\\) URL|could not be fetched"):
        f.fetch(url, timeout=1, max_bytes=100)


# --- local files ---------------------------------------------------------------------------


def test_read_location_reads_files_under_the_cap(tmp_path):
    cfg = SourceConfig(name="f", kind="auto", location=str(FIXTURES / "homepage-ar.txt"))
    got = read_location(cfg, fetcher(lambda r: pytest.fail("no network for files")))
    assert got.body == (FIXTURES / "homepage-ar.txt").read_bytes()
    assert got.final_url.startswith("file:///") and got.content_type is None
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 101)
    with pytest.raises(SourceError, match=r"big.txt is larger than the 100-byte limit"):
        read_file(big, max_bytes=100)
    assert read_file(big, max_bytes=101).body == b"a" * 101


def test_read_location_file_errors(tmp_path):
    with pytest.raises(SourceError, match="file not found: .*missing.xml"):
        read_file(tmp_path / "missing.xml", max_bytes=10)
    with pytest.raises(SourceError, match="is a directory"):
        read_file(tmp_path, max_bytes=10)


def test_read_location_fetches_urls_with_the_source_limits():
    seen = {}

    def handler(request):
        seen["timeout"] = request.extensions["timeout"]
        return httpx.Response(200, content=b"x" * 50)

    cfg = SourceConfig(name="u", kind="rss", location=URL, timeout=3.0, max_bytes=10)
    with pytest.raises(SourceError, match="10-byte limit"):
        read_location(cfg, fetcher(handler))
    assert seen["timeout"]["read"] == 3.0


# --- one real server on loopback (an intranet feed, hence allow_private) ----------------------


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/feed.xml":
            if self.headers.get("If-None-Match") == '"abc"':
                self.send_response(304)
                self.end_headers()
                return
            self.server.agents.append(self.headers.get("User-Agent"))
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", '"abc"')
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/feed.xml")
            self.end_headers()
        elif self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.agents = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_loopback_server_fetch_redirect_304_and_404(server):
    base = f"http://127.0.0.1:{server.server_address[1]}"
    cache = MemoryFeedCache()
    with Fetcher("digest-loopback/1.0", cache=cache) as f:
        first = f.fetch(f"{base}/moved", timeout=5, max_bytes=1_000_000, allow_private=True)
        assert first.body == FEED and first.final_url == f"{base}/feed.xml"
        assert server.agents == ["digest-loopback/1.0"]
        f.fetch(f"{base}/feed.xml", timeout=5, max_bytes=1_000_000, allow_private=True)
        again = f.fetch(f"{base}/feed.xml", timeout=5, max_bytes=1_000_000, allow_private=True)
        assert again.from_cache is True and again.body == FEED
        with pytest.raises(SourceError, match=r"/nope returned HTTP 404"):
            f.fetch(f"{base}/nope", timeout=5, max_bytes=1000, allow_private=True)


def test_loopback_slow_drip_hits_the_overall_deadline(server):
    base = f"http://127.0.0.1:{server.server_address[1]}"
    started = time.monotonic()
    with Fetcher("digest-loopback/1.0") as f, pytest.raises(SourceError, match="timed out"):
        f.fetch(f"{base}/drip", timeout=0.3, max_bytes=1000, allow_private=True)
    assert time.monotonic() - started < 2


def test_loopback_connection_refused():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with Fetcher("x") as f, pytest.raises(SourceError, match="could not be fetched"):
        f.fetch(f"http://127.0.0.1:{port}/", timeout=2, max_bytes=10, allow_private=True)


def test_a_broken_cache_never_costs_the_source():
    class BrokenCache:
        def get(self, url):
            raise RuntimeError("database is locked")

        def put(self, url, **kw):
            raise RuntimeError("database is locked")

    f = fetcher(
        lambda r: httpx.Response(200, content=b"body", headers={"etag": '"e"'}), cache=BrokenCache()
    )
    got = f.fetch(URL, timeout=5, max_bytes=100)
    assert got.body == b"body" and got.from_cache is False
