"""The one place where sources touch the network or the disk.

Everything a source reads goes through ``read_location``: a local file, or an HTTP(S) URL
fetched by ``Fetcher``. Parsers downstream only ever see bytes, so they can be tested with
fixture files and no I/O at all.

Rules the fetcher enforces, and why:

- Every failure becomes a ``SourceError`` with a sentence naming the URL. A raw httpx
  exception would escape ``read_source``'s contract ("a broken source yields an error").
- Addresses (guard.py): nothing is sent to a loopback, private, link-local, multicast or
  reserved address unless the source says ``allow_private = true``, nor ever to a cloud
  metadata address. The check is made on the address actually connected to, after our own
  DNS lookup, so neither a name that resolves to 127.0.0.1 nor DNS rebinding gets past it.
- Redirects are followed by hand, at most ``MAX_REDIRECTS`` times, each hop checked: only
  http(s), never from https down to http, and a source with ``allow_private`` never leaves
  its own origin (scheme, host, port) -- it may reach the intranet, so its redirects must
  not be able to pick where.
- Size (decode.py): the cap counts decoded bytes as they are produced, each compression layer
  asked for a bounded piece at a time, so a gzip bomb (even a doubly gzipped one) costs
  about the cap in memory, never the bomb's size. Content-Length over the cap fails at once.
- Time: ``timeout`` is one deadline for the whole fetch -- DNS, connect, TLS, headers, body,
  and every redirect hop. Each socket operation gets only the time left, so a server that
  drips its headers one byte a second is cut off at the deadline.
- Conditional GET: feeds are polled often and rarely change. When a ``FeedCache`` is given,
  we send the stored ETag / Last-Modified and, on ``304 Not Modified``, hand back the stored
  body marked ``from_cache=True``.

Each fetch gets its own client and connection pool (guard.py says why); the TLS context,
whose CA bundle costs ~30 ms to load, is made once per ``Fetcher``.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from digest.config import SourceConfig
from digest.errors import SourceError
from digest.models import CachedFeed
from digest.sources.decode import ACCEPT_ENCODING, decoded, encodings
from digest.sources.guard import (
    AddressRefused,
    AddressRules,
    Deadline,
    GuardedBackend,
    GuardedTransport,
    IPNetwork,
    Resolver,
    system_resolver,
)

log = logging.getLogger(__name__)
MAX_REDIRECTS = 5
# Servers pick a representation from Accept; ask for feeds and pages first, anything else last.
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, text/html;q=0.8, text/plain;q=0.7, */*;q=0.5"
)


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str | None
    final_url: str  # after redirects; a file:// URI for local files
    from_cache: bool = False


class FeedCache(Protocol):
    """Where validators and the last body of each URL are kept between runs.

    ``digest.store`` provides the SQL-backed one; ``MemoryFeedCache`` serves tests and
    one-off command-line runs.
    """

    def get(self, url: str) -> CachedFeed | None: ...

    def put(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
        content_type: str | None,
    ) -> None: ...


class MemoryFeedCache:
    """A FeedCache that lives as long as the process."""

    def __init__(self) -> None:
        self._entries: dict[str, CachedFeed] = {}

    def get(self, url: str) -> CachedFeed | None:
        return self._entries.get(url)

    def put(self, url, *, etag, last_modified, body, content_type) -> None:
        self._entries[url] = CachedFeed(etag, last_modified, body, content_type)

    def __len__(self) -> int:
        return len(self._entries)


class Fetcher:
    """Fetches URLs under the rules above; one per build, shared by its sources.

    ``resolver``, ``trusted_networks`` and ``ssl_context`` exist for tests: a fake resolver
    stands in for DNS (a public name answering 127.0.0.1, say), a trusted network lets a
    loopback test server play a public site, and a context trusting a test CA lets it do so
    over TLS. ``transport`` replaces the network altogether (httpx's
    MockTransport); the address checks that need no connection (IP literals, redirects) still
    apply then, the ones made at connect time cannot.
    """

    def __init__(
        self,
        user_agent: str,
        *,
        transport: httpx.BaseTransport | None = None,
        cache: FeedCache | None = None,
        max_redirects: int = MAX_REDIRECTS,
        resolver: Resolver = system_resolver,
        trusted_networks: Iterable[IPNetwork] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.cache = cache
        self.max_redirects = max_redirects
        self._resolver = resolver
        self._trusted = tuple(trusted_networks)
        self._headers = {
            "User-Agent": user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._transport = transport
        self._shared: httpx.Client | None = None  # over an injected transport only
        self._ssl_context = ssl_context  # default: httpx's (certifi, verified), made on first use
        self._lock = threading.Lock()  # the sources are read in threads (gather.py)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _client(self, rules: AddressRules, deadline: Deadline) -> Iterator[httpx.Client]:
        if self._transport is not None:
            with self._lock:
                if self._shared is None:
                    self._shared = httpx.Client(
                        transport=self._transport, follow_redirects=False, headers=self._headers
                    )
            yield self._shared
            return
        with self._lock:
            if self._ssl_context is None:
                # Made on first use: loading the CA bundle costs ~30 ms, wasted when every
                # source is a file.
                self._ssl_context = httpx.create_ssl_context()
        backend = GuardedBackend(rules, self._resolver, deadline)
        transport = GuardedTransport(backend, self._ssl_context)
        with httpx.Client(
            transport=transport, follow_redirects=False, headers=self._headers, trust_env=False
        ) as client:
            yield client

    def fetch(
        self, url: str, *, timeout: float, max_bytes: int, allow_private: bool = False
    ) -> Fetched:
        _check_http(url, url)
        rules = AddressRules(allow_private=allow_private, trusted=self._trusted)
        cached = self._cache_get(url)
        headers = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        deadline = Deadline(timeout)
        hop = None  # the redirect target being followed, if any
        try:
            with self._client(rules, deadline) as client:
                request = client.build_request(
                    "GET", url, headers=headers, timeout=httpx.Timeout(timeout)
                )
                for _hop in range(self.max_redirects + 1):
                    rules.check_literal(request.url.host)
                    response = client.send(request, stream=True)
                    try:
                        if response.next_request is None:
                            return self._finish(url, response, cached, max_bytes, deadline)
                        current, request = str(request.url), response.next_request
                    finally:
                        response.close()
                    hop = str(request.url)
                    _check_redirect(url, current, hop, allow_private)
                raise SourceError(f"{url} redirected more than {self.max_redirects} times")
        except AddressRefused as exc:
            where = url if hop is None else f"{url} redirected to {hop!r}, which"
            raise AddressRefused(f"{where} was refused: {exc}") from None
        except httpx.TimeoutException:
            raise SourceError(f"{url} timed out after {timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise SourceError(f"{url} could not be fetched: {_describe(exc)}") from None

    def _finish(self, url, response, cached, max_bytes, deadline) -> Fetched:
        final_url = str(response.url)
        if response.status_code == 304:
            if cached is None:
                raise SourceError(
                    f"{url} answered 304 Not Modified to a request that was not conditional"
                )
            return Fetched(cached.body, cached.content_type, final_url, from_cache=True)
        if not response.is_success:
            reason = response.reason_phrase or ""
            raise SourceError(f"{url} returned HTTP {response.status_code} {reason}".rstrip())
        body = _read_capped(response, url, max_bytes, deadline)
        content_type = response.headers.get("content-type")
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        # Only worth storing when the server gave a validator: without one, the next request
        # cannot be conditional and the stored body would never be used.
        if self.cache is not None and (etag or last_modified):
            try:
                self.cache.put(
                    url,
                    etag=etag,
                    last_modified=last_modified,
                    body=body,
                    content_type=content_type,
                )
            except Exception:
                log.warning("feed cache could not store %s", url, exc_info=True)
        return Fetched(body, content_type, final_url, from_cache=False)

    def _cache_get(self, url: str) -> CachedFeed | None:
        # The cache only saves bandwidth: a database hiccup must not cost us the source, so
        # its failures are logged and the fetch goes on unconditionally.
        if self.cache is None:
            return None
        try:
            return self.cache.get(url)
        except Exception:
            log.warning("feed cache could not be read for %s", url, exc_info=True)
            return None


def _check_http(target: str, asked: str) -> None:
    try:
        parts = urlsplit(target)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        where = "is not" if target == asked else f"redirected to {target!r}, which is not"
        raise SourceError(f"{asked} {where} an http(s) URL")


def _check_redirect(url: str, current: str, target: str, allow_private: bool) -> None:
    """The rules for following ``current`` -> ``target`` (the address rules come later)."""
    _check_http(target, url)
    if urlsplit(current).scheme == "https" and urlsplit(target).scheme == "http":
        raise SourceError(
            f"{url} redirected from https to plain http ({target!r}), which is never followed"
        )
    if allow_private and _origin(target) != _origin(url):
        raise SourceError(
            f"{url} redirected to {target!r}, another origin; a source with "
            "allow_private = true is never followed off its own origin"
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


def _read_capped(response: httpx.Response, url: str, max_bytes: int, deadline: Deadline) -> bytes:
    declared = response.headers.get("content-length", "")
    # Content-Length counts encoded bytes, the cap counts decoded ones; a declared length
    # over the cap is still over it once decoded (compression only makes things bigger).
    if declared.isdigit() and int(declared) > max_bytes:
        raise SourceError(_too_big(url, max_bytes))
    layers = encodings(response.headers.get("content-encoding"), url)
    raw_size = 0

    def raw() -> Iterator[bytes]:
        nonlocal raw_size
        # Raw bytes: httpx's own decoders would expand a whole chunk per layer at once. A
        # response built from bytes (httpx.MockTransport in tests) was read when it was made;
        # its stream, a ByteStream, still yields the raw bytes.
        stream = response.stream if response.is_stream_consumed else response.iter_raw()
        assert isinstance(stream, Iterable)  # an httpx.Client's streams are synchronous
        for chunk in stream:
            raw_size += len(chunk)
            if raw_size > max_bytes:
                raise SourceError(_too_big(url, max_bytes))
            if deadline.passed:
                raise SourceError(
                    f"{url} timed out after {deadline.seconds:g} s (body still arriving)"
                )
            yield chunk

    chunks: list[bytes] = []
    size = 0
    for piece in decoded(raw(), layers, url):
        size += len(piece)
        if size > max_bytes:
            raise SourceError(_too_big(url, max_bytes))
        chunks.append(piece)
    return b"".join(chunks)


def _too_big(where: str, max_bytes: int) -> str:
    return f"{where} is larger than the {max_bytes:,}-byte limit (max_bytes)"


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_location(cfg: SourceConfig, fetcher: Fetcher) -> Fetched:
    """The bytes behind a source's location, a local file or an http(s) URL, under its cap."""
    if cfg.is_url:
        return fetcher.fetch(
            cfg.location,
            timeout=cfg.timeout,
            max_bytes=cfg.max_bytes,
            allow_private=cfg.allow_private,
        )
    return read_file(Path(cfg.location), max_bytes=cfg.max_bytes)


def read_file(path: Path, *, max_bytes: int) -> Fetched:
    try:
        with path.open("rb") as fh:
            # Read one byte past the cap rather than trusting stat(): the file may be a pipe
            # or may grow while we read it.
            body = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path} could not be read: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise SourceError(_too_big(str(path), max_bytes))
    return Fetched(body, None, path.resolve().as_uri(), from_cache=False)
