"""The one place where sources touch the network or the disk.

Everything a source reads goes through ``read_location``: a local file, or an HTTP(S) URL
fetched by ``Fetcher``. Parsers downstream only ever see bytes, so they can be tested with
fixture files and no I/O at all.

Rules the fetcher enforces, and why:

- Every failure becomes a ``SourceError`` with a sentence naming the URL. A raw httpx
  exception would escape ``read_source``'s contract ("a broken source yields an error").
- The size cap is checked *while streaming* (and against Content-Length up front), so a
  hostile or broken server cannot make us buffer gigabytes; the count is taken after
  decompression, so a small gzip bomb is caught too.
- ``timeout`` is applied to each network operation by httpx *and* as an overall deadline
  while reading the body: a server dripping one byte per second never trips a per-read
  timeout but must not hold the morning build hostage.
- Redirects are followed, at most ``MAX_REDIRECTS`` times, and only to http(s) URLs.
- Conditional GET: feeds are polled often and rarely change. When a ``FeedCache`` is given,
  we send the stored ETag / Last-Modified and, on ``304 Not Modified``, hand back the stored
  body marked ``from_cache=True``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from digest.config import SourceConfig
from digest.errors import SourceError

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


@dataclass(frozen=True)
class CachedFeed:
    etag: str | None
    last_modified: str | None
    body: bytes
    content_type: str | None


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
    """One shared httpx.Client (connection reuse across sources), with our rules applied."""

    def __init__(
        self,
        user_agent: str,
        *,
        transport: httpx.BaseTransport | None = None,
        cache: FeedCache | None = None,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        self.cache = cache
        self.max_redirects = max_redirects
        self._user_agent = user_agent
        self._transport = transport
        self._http: httpx.Client | None = None

    @property
    def _client(self) -> httpx.Client:
        # Made on first use: loading the CA bundle costs ~30 ms, wasted when every source is a file.
        if self._http is None:
            self._http = httpx.Client(
                transport=self._transport,
                follow_redirects=False,  # followed in fetch(), one checked hop at a time
                headers={"User-Agent": self._user_agent, "Accept": ACCEPT},
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch(self, url: str, *, timeout: float, max_bytes: int) -> Fetched:
        _check_http(url, url)
        cached = self._cache_get(url)
        headers = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        deadline = time.monotonic() + timeout
        try:
            request = self._client.build_request(
                "GET", url, headers=headers, timeout=httpx.Timeout(timeout))
            for _hop in range(self.max_redirects + 1):
                response = self._client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        return self._finish(url, response, cached, max_bytes, deadline, timeout)
                    request = response.next_request
                finally:
                    response.close()
                # Followed by hand so every hop is checked: only http(s) (httpx leaves other
                # schemes to the transport, and a test transport would happily follow them).
                _check_http(str(request.url), url)
            raise SourceError(f"{url} redirected more than {self.max_redirects} times")
        except httpx.TimeoutException:
            raise SourceError(f"{url} timed out after {timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise SourceError(f"{url} could not be fetched: {_describe(exc)}") from None

    def _finish(self, url, response, cached, max_bytes, deadline, timeout) -> Fetched:
        final_url = str(response.url)
        if response.status_code == 304:
            if cached is None:
                raise SourceError(
                    f"{url} answered 304 Not Modified to a request that was not conditional")
            return Fetched(cached.body, cached.content_type, final_url, from_cache=True)
        if not response.is_success:
            reason = response.reason_phrase or ""
            raise SourceError(f"{url} returned HTTP {response.status_code} {reason}".rstrip())
        body = _read_capped(response, url, max_bytes, deadline, timeout)
        content_type = response.headers.get("content-type")
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        # Only worth storing when the server gave a validator: without one, the next request
        # cannot be conditional and the stored body would never be used.
        if self.cache is not None and (etag or last_modified):
            try:
                self.cache.put(url, etag=etag, last_modified=last_modified, body=body,
                               content_type=content_type)
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


def _read_capped(
    response: httpx.Response, url: str, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    declared = response.headers.get("content-length", "")
    # Content-Length counts encoded bytes, the cap counts decoded ones; a declared length
    # over the cap is still over it once decoded (compression only makes things bigger).
    if declared.isdigit() and int(declared) > max_bytes:
        raise SourceError(_too_big(url, max_bytes))
    chunks: list[bytes] = []
    size = 0
    # No chunk_size: httpx would buffer up to it, and the deadline is checked per network read.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(_too_big(url, max_bytes))
        if time.monotonic() > deadline:
            raise SourceError(f"{url} timed out after {timeout:g} s (body still arriving)")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(where: str, max_bytes: int) -> str:
    return f"{where} is larger than the {max_bytes:,}-byte limit (max_bytes)"


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_location(cfg: SourceConfig, fetcher: Fetcher) -> Fetched:
    """The bytes behind a source's location, a local file or an http(s) URL, under its cap."""
    if cfg.is_url:
        return fetcher.fetch(cfg.location, timeout=cfg.timeout, max_bytes=cfg.max_bytes)
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
