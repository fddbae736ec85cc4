"""Sources: read each configured location into stories, or into a one-sentence error.

``read_source`` is the only entry the rest of the project needs. Its contract: it never
raises for bad input. A missing file, an HTTP 500, a timeout, a feed that is not XML, a
selector that is not CSS, or a parser bug all come back as
``SourceResult(name, error="...")`` so that one broken source cannot stop an edition.

Modules, one job each:

    fetch.py   the only I/O: local files and HTTP (caps, deadline, redirects, conditional GET)
    gather.py  every source at once, under one deadline for the whole gathering
    guard.py   which addresses a fetch may connect to    decode.py  Content-Encoding, bounded
    detect.py  rss | page | text, from the bytes; or not a source at all (PNG, PDF, ZIP, ...)
    text.py    homepage text dump          rss.py   RSS 2.0 / RSS 1.0 / Atom
    page.py    HTML with CSS selectors     dating.py  HH:MM -> datetime, backwards
    plain.py   plain text and safe URLs out of untrusted input

Roles: a feed's stories all take the source's role (default "ticker"). Text dumps and
pages carry both kinds; when such a source has a role configured, only its stories of that
role are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from digest.config import SourceConfig
from digest.errors import SourceError
from digest.models import CachedFeed, SourceResult
from digest.sources.detect import NOT_A_SOURCE, binary_kind, detect_kind
from digest.sources.fetch import (
    FeedCache,
    Fetched,
    Fetcher,
    MemoryFeedCache,
    read_location,
)
from digest.sources.gather import gather
from digest.sources.page import parse_page
from digest.sources.rss import parse_feed
from digest.sources.text import parse_text

__all__ = [
    "CachedFeed",
    "FeedCache",
    "Fetched",
    "Fetcher",
    "MemoryFeedCache",
    "detect_kind",
    "read_location",
    "read_source",
    "read_sources",
]

log = logging.getLogger(__name__)
KIND_NAMES = {"rss": "an RSS/Atom feed", "page": "an HTML page", "text": "a text dump"}


def read_source(
    cfg: SourceConfig,
    *,
    reference_time: datetime,
    tz: ZoneInfo,
    site_url: str,
    fetcher: Fetcher,
) -> SourceResult:
    """Read one source. Never raises for anything the source contains or does."""
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=tz)
    kind = cfg.kind
    try:
        fetched = read_location(cfg, fetcher)
        if not fetched.body.strip():
            return SourceResult(
                name=cfg.name,
                error=f"Source '{cfg.name}' is empty ({_where(cfg, fetched)} has no content).",
            )
        # Before any parser: a PNG read as a text dump would become hundreds of junk stories.
        binary = binary_kind(fetched.body, fetched.content_type)
        if binary:
            return SourceResult(
                name=cfg.name,
                error=f"Source '{cfg.name}': {_where(cfg, fetched)} {binary}, {NOT_A_SOURCE}.",
            )
        if kind == "auto":
            kind = detect_kind(fetched.body, fetched.content_type)
        result = _dispatch(kind, cfg, fetched, reference_time, tz, site_url)
    except SourceError as exc:
        return SourceResult(name=cfg.name, error=_sentence(f"Source '{cfg.name}': {exc}"))
    except Exception as exc:
        # A parser bug or a library choking on hostile input: log the traceback for the
        # operator, give the edition one sentence.
        log.exception("source %s could not be parsed", cfg.name)
        what = KIND_NAMES.get(kind, "a source")
        return SourceResult(
            name=cfg.name,
            error=_sentence(
                f"Source '{cfg.name}' could not be read as {what}: {type(exc).__name__}: {exc}"
            ),
        )
    return _keep_role(result, cfg.role, kind)


def read_sources(
    configs: Iterable[SourceConfig],
    *,
    reference_time: datetime,
    tz: ZoneInfo,
    site_url: str,
    fetcher: Fetcher,
    deadline: float | None = None,
) -> list[SourceResult]:
    """Read every source at once (gather.py); one result per source, in the configured order,
    failures included. ``deadline``: seconds for the whole gathering, None for no limit."""
    return gather(
        list(configs),
        lambda cfg: read_source(
            cfg, reference_time=reference_time, tz=tz, site_url=site_url, fetcher=fetcher
        ),
        deadline=deadline,
    )


def _dispatch(kind, cfg, fetched: Fetched, reference_time, tz, site_url) -> SourceResult:
    # A relative link is resolved against the URL it was fetched from. A local file's
    # file:// address would turn it into a link no reader can open, so a local file resolves
    # against the site it was copied from instead.
    base = fetched.final_url if _is_http(fetched.final_url) else site_url
    if kind == "rss":
        return parse_feed(
            fetched.body,
            name=cfg.name,
            base_url=base,
            content_type=fetched.content_type,
            role=cfg.role,
            tz=tz,
        )
    if kind == "page":
        return parse_page(
            fetched.body,
            name=cfg.name,
            page_url=fetched.final_url if _is_http(fetched.final_url) else None,
            site_url=site_url,
            reference_time=reference_time,
            tz=tz,
            selectors=cfg.selectors,
            content_type=fetched.content_type,
        )
    if kind == "text":
        return parse_text(
            fetched.body,
            name=cfg.name,
            reference_time=reference_time,
            tz=tz,
            boilerplate=cfg.boilerplate,
            content_type=fetched.content_type,
        )
    raise SourceError(f"unknown source kind {kind!r}")


def _keep_role(result: SourceResult, role: str | None, kind: str) -> SourceResult:
    if role is None or kind == "rss" or not result.ok:
        return result
    kept = tuple(s for s in result.stories if s.role == role)
    if len(kept) == len(result.stories):
        return result
    dropped = len(result.stories) - len(kept)
    warnings = result.warnings + (
        f"ignored {dropped} story(ies) that are not '{role}' (the source's role)",
    )
    return SourceResult(name=result.name, stories=kept, error=result.error, warnings=warnings)


def _is_http(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def _where(cfg: SourceConfig, fetched: Fetched) -> str:
    return fetched.final_url if cfg.is_url else cfg.location


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."
