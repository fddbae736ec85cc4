"""RSS feeds on loopback that answer slowly, or never: for the gathering tests and benchmark.

    with SlowFeeds() as feeds:
        feeds.url("a", delay=0.5)     # an RSS feed with one undated story "Story a", after 0.5 s
        feeds.url("b", hang=True)     # reads the request, then answers only once the server stops
        feeds.requests                # names asked for, in arrival order

The handler threads are daemons and a hung one is woken when the server stops, so a test never
waits on it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Feed {name}</title><link>https://feeds.example/{name}</link>
<description>d</description>
<item><title>Story {name}</title><link>https://feeds.example/{name}/story</link></item>
</channel></rss>
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        name = parts.path.rsplit("/", 1)[-1]
        query = parse_qs(parts.query)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(name)
        if "hang" in query:
            owner.stopping.wait(owner.hang_seconds)
            self.close_connection = True
            return
        if owner.stopping.wait(float(query.get("delay", ["0"])[0])):
            return
        body = RSS.format(name=name).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64
    owner: SlowFeeds


class SlowFeeds:
    def __init__(self, hang_seconds: float = 60.0):
        self.hang_seconds = hang_seconds
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> SlowFeeds:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def url(self, name: str, *, delay: float = 0.0, hang: bool = False) -> str:
        host, port = self._httpd.server_address[:2]
        query = "hang=1" if hang else f"delay={delay:g}"
        return f"http://{host}:{port}/feed/{name}?{query}"
