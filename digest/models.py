"""Plain data passed between the parts. No behaviour that needs I/O lives here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Role = Literal["ticker", "featured"]


@dataclass(frozen=True)
class Image:
    url: str
    alt: str = ""
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Story:
    """One headline or featured story as a source saw it.

    Text fields are plain text (never markup). ``summary_html`` is the only HTML, and it has
    already been sanitized by the source that produced it.
    """

    title: str
    role: Role
    source: str
    url: str | None = None
    published_at: datetime | None = None  # timezone-aware; None when the source gave no date
    paragraphs: tuple[str, ...] = ()
    summary_html: str | None = None
    image: Image | None = None


@dataclass(frozen=True)
class SourceResult:
    """What one source produced: stories, or an error saying why not (never an exception)."""

    name: str
    stories: tuple[Story, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Edition:
    id: str
    list_name: str
    subject: str
    preheader: str
    locale: str
    timezone: str
    reference_time: datetime
    window_start: datetime
    ticker: tuple[Story, ...]
    featured: tuple[Story, ...]
    warnings: tuple[str, ...] = ()
    sources: tuple[SourceResult, ...] = ()
    note: str | None = None
    build_seconds: float | None = None  # sources read to rendering done (for monitoring)

    @property
    def direction(self) -> str:
        from digest.locale import direction

        return direction(self.locale)


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str = ""
    locale: str | None = None


@dataclass(frozen=True)
class Rendered:
    """One edition rendered once: HTML and text with placeholders still in them."""

    html: str
    text: str
    subject: str
    preheader: str
    warnings: tuple[str, ...] = field(default=())
    # Placeholder tokens still in ``html`` and ``text``: {"html": {key: token}, "text": {...}},
    # keys "greeting", "unsubscribe_url", "preferences_url". See digest.render.personalize.
    tokens: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    locale: str = ""
    direction: str = "ltr"

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))
