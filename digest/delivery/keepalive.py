"""One kept-alive connection under the ``sendgrid`` library's requests.

``python_http_client`` (the library's HTTP layer) opens each request through a new urllib
opener: a new TCP (and TLS) connection per batch, set up and torn down by both ends, about a
tenth of the sender's time at 100,000 subscribers. The library separates the opening into
``Client._make_request(opener, request, timeout)`` ("so we can mock it"); ``KeepAlive.open`` takes
that place on the one client the backend posts through, and sends the request the library built
(its URL, headers and body, unchanged) over one ``http.client`` connection kept between requests.

What a caller can tell from an error stays what urllib gives (digest/delivery/sendgrid.py relies
on it to tell a safe retry from an ambiguous one): anything raised while connecting or writing
the request arrives wrapped in ``urllib.error.URLError``, anything raised while waiting for or
reading the answer arrives as it is, and an HTTP error status as the library's own
``HTTPError``. A connection the server closed while idle is seen before the request is written
(its socket reads as ready), and one idle longer than ``IDLE_SECONDS`` is not reused, so a
request is seldom written to a connection the server is closing (if it is, the answer is lost
after the write: reported ambiguous, as urllib's would be).

A proxy set in the environment (``HTTPS_PROXY``...) is honoured as urllib honours it: the request
then goes through the library's own opener.
"""

from __future__ import annotations

import http.client
import io
import selectors
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from python_http_client.exceptions import handle_error

IDLE_SECONDS = 20.0  # below the idle timeouts of the usual HTTP servers and load balancers


class Answer:
    """What ``python_http_client.Response`` reads of urllib's response: status, body, headers."""

    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: bytes, headers: http.client.HTTPMessage):
        self.status, self.body, self.headers = status, body, headers

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.body

    def info(self) -> http.client.HTTPMessage:
        return self.headers


class KeepAlive:
    """``open`` in place of ``Client._make_request``; ``fallback`` is the library's own."""

    def __init__(
        self,
        *,
        timeout: float,
        fallback: Callable,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.timeout, self.fallback, self.clock = timeout, fallback, clock
        self._conn: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int | None] | None = None
        self._used_at = 0.0
        self._lock = threading.Lock()  # one request at a time on the one connection
        self.connections = 0  # opened so far (the benchmark and the tests read it)

    def open(self, opener, request: urllib.request.Request, timeout: float | None = None):
        where = urlsplit(request.full_url)
        if where.scheme not in ("http", "https") or _proxied(where.scheme, where.hostname):
            return self.fallback(opener, request, timeout=timeout)
        with self._lock:
            return self._exchange(where, request, timeout or self.timeout)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _exchange(self, where, request: urllib.request.Request, timeout: float) -> Answer:
        conn = self._connection(where, timeout)
        selector = where.path or "/"
        if where.query:
            selector += "?" + where.query
        # The library's headers as urllib would send them, less its "Connection: close".
        headers = dict(request.header_items())
        try:
            conn.request(request.get_method(), selector, body=request.data, headers=headers)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise urllib.error.URLError(exc) from exc  # as urllib: nothing was taken
        try:
            response = conn.getresponse()
            body = response.read()
        except BaseException:
            self._drop()
            raise
        if response.will_close:
            self._drop()
        else:
            self._used_at = self.clock()
        if response.status >= 300:
            # What the library's opener would raise (no redirect is followed for a POST).
            err = urllib.error.HTTPError(
                request.full_url, response.status, response.reason, response.msg, io.BytesIO(body)
            )
            raise handle_error(err)
        return Answer(response.status, body, response.msg)

    def _connection(self, where, timeout: float) -> http.client.HTTPConnection:
        origin = (where.scheme, where.hostname or "", where.port)
        conn = self._conn
        if conn is not None and (
            origin != self._origin
            or self.clock() - self._used_at > IDLE_SECONDS
            or _closed_by_peer(conn)
        ):
            self._drop()
            conn = None
        if conn is None:
            kind = (
                http.client.HTTPSConnection
                if where.scheme == "https"
                else http.client.HTTPConnection
            )
            # HTTPSConnection's default context is urllib's: certificates and hostname checked.
            conn = kind(where.hostname or "", where.port, timeout=timeout)
            self._conn, self._origin = conn, origin
            self.connections += 1
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle connection whose socket reads as ready has been closed by the server (or sent
    something unasked): either way it is not one to write a request to."""
    sock = conn.sock
    if sock is None:
        return False  # not connected yet: http.client connects on the request
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        return bool(sel.select(0))


def _proxied(scheme: str, host: str | None) -> bool:
    proxies = urllib.request.getproxies()
    return scheme in proxies and not urllib.request.proxy_bypass(host or "")
