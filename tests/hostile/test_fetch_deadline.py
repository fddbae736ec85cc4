"""Attacks on time: servers (and name servers) that never quite stop answering.

Each test asserts the fetch *fails* with the source's timeout error and returns within the
deadline plus a loose slack: a correctness bound (before the fix, the header drip held a
build for 40 s against a 10 s timeout), not a speed measurement.
"""

import time

import pytest

from digest.errors import SourceError
from digest.sources import Fetcher

from .fetch_server import hostile_server, redirect

TIMEOUT = 1.0
SLACK = 2.0  # generous: a loaded CI machine, thread start-up
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: " + b"a" * 60 + b"\r\n\r\nok"


def drip(data: bytes, interval: float) -> list[bytes | float]:
    steps: list[bytes | float] = []
    for i in range(len(data)):
        steps += [data[i : i + 1], interval]
    return steps


def timed_fetch(url, **kw):
    started = time.monotonic()
    with Fetcher("t") as fetcher, pytest.raises(SourceError) as info:
        fetcher.fetch(url, timeout=TIMEOUT, max_bytes=10_000, allow_private=True, **kw)
    return str(info.value), time.monotonic() - started


def test_headers_dripped_one_byte_at_a_time_hit_the_deadline():
    """Attack: every byte arrives within the read timeout; the headers never end in time.

    Undefended, this takes len(HEAD) x 0.2 s = 17 s; each read's own timeout never trips.
    """
    with hostile_server(lambda path: drip(HEAD, 0.2)) as server:
        message, elapsed = timed_fetch(server.url("/"))
    assert message == f"{server.url('/')} timed out after 1 s"
    assert elapsed < TIMEOUT + SLACK


def test_a_body_dripped_slowly_hits_the_same_deadline():
    """Attack: prompt headers, then a body one byte every 0.2 s."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"
    with hostile_server(lambda path: [head] + drip(b"x" * 500, 0.2)) as server:
        message, elapsed = timed_fetch(server.url("/"))
    assert "timed out after 1 s" in message and elapsed < TIMEOUT + SLACK


def test_redirect_hops_share_one_deadline():
    """Attack: each hop answers just inside the timeout, hop after hop."""

    def script(path):
        n = int(path.strip("/") or 0)
        return [0.4, redirect(f"/{n + 1}")]

    with hostile_server(script) as server:
        message, elapsed = timed_fetch(server.url("/0"))
    assert "timed out after 1 s" in message and elapsed < TIMEOUT + SLACK
    assert len(server.paths) <= 4  # 5 hops x 0.4 s would have been 2 s


def test_a_name_server_that_never_answers_hits_the_deadline():
    """Attack: DNS that hangs (getaddrinfo has no timeout of its own)."""

    def hanging(host, port):
        time.sleep(10)
        return ["93.184.216.34"]

    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        Fetcher("t", resolver=hanging).fetch(
            "http://slow-dns.example/feed", timeout=TIMEOUT, max_bytes=100
        )
    assert str(info.value) == "http://slow-dns.example/feed timed out after 1 s"
    assert time.monotonic() - started < TIMEOUT + SLACK
