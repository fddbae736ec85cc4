"""Plain data passed between the parts, and the edition's JSON form (edition.json, also what
the database stores). No behaviour that needs I/O lives here."""

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
    # Near-duplicate stories merged (digest.edition.similar): {"kept", "dropped", "score"}, and
    # what undoing one needs: "story" (the dropped story), "kept_url", "kept_published_at".
    merged: tuple[Mapping[str, object], ...] = ()
    # The same day's edition in the list's other locales (each with no variants of its own);
    # this one is the list's default locale. Empty for a one-locale list.
    variants: tuple[Edition, ...] = ()

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


@dataclass(frozen=True)
class Variant:
    """One locale's edition and its rendering (made once, like the default one)."""

    edition: Edition
    rendered: Rendered

    @property
    def locale(self) -> str:
        return self.edition.locale


@dataclass(frozen=True)
class CachedFeed:
    etag: str | None
    last_modified: str | None
    body: bytes
    content_type: str | None


# -- edition.json ----------------------------------------------------------------------------
# The ``edition.json`` contract: what other tools read. Add keys freely; never rename or drop one.
#
# Required by DESIGN.md: id, subject, preheader, locale, timezone, ticker[] (title, url,
# published_at) and featured[] (title, url, published_at, paragraphs). ``published_at`` is ISO 8601
# with the site's offset, or null for a story its source gave no date.

FORMAT_VERSION = 1


def edition_to_dict(edition: Edition, *, html_bytes: int | None = None) -> dict:
    return {
        "format": FORMAT_VERSION,
        "id": edition.id,
        "list": edition.list_name,
        "subject": edition.subject,
        "preheader": edition.preheader,
        "locale": edition.locale,
        "direction": edition.direction,
        "timezone": edition.timezone,
        "reference_time": edition.reference_time.isoformat(),
        "window_start": edition.window_start.isoformat(),
        "note": edition.note,
        "ticker": [_story_dict(s) for s in edition.ticker],
        "featured": [_story_dict(s) for s in edition.featured],
        "sources": [_source_dict(r) for r in edition.sources],
        "warnings": list(edition.warnings),
        "merged": [dict(m) for m in edition.merged],
        **({"html_bytes": html_bytes} if html_bytes is not None else {}),
        **({"build_seconds": edition.build_seconds} if edition.build_seconds is not None else {}),
        # Only for a list with readers in several locales: a one-locale edition.json is unchanged.
        **(
            {"variants": [edition_to_dict(v) for v in edition.variants]} if edition.variants else {}
        ),
    }


def edition_from_dict(data: dict) -> Edition:
    """Read back an edition.json (drafts kept for editors, replays)."""
    return Edition(
        id=data["id"],
        list_name=data.get("list", data["id"].rsplit("-", 3)[0]),
        subject=data["subject"],
        preheader=data["preheader"],
        locale=data["locale"],
        timezone=data["timezone"],
        reference_time=datetime.fromisoformat(data["reference_time"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        ticker=tuple(_story_from_dict(s, "ticker") for s in data["ticker"]),
        featured=tuple(_story_from_dict(s, "featured") for s in data["featured"]),
        warnings=tuple(data.get("warnings", ())),
        note=data.get("note"),
        build_seconds=data.get("build_seconds"),
        merged=tuple(data.get("merged", ())),
        variants=tuple(edition_from_dict(v) for v in data.get("variants", ())),
    )


def story_to_dict(story: Story) -> dict:
    """One story in edition.json's form, with its ``role`` (for a story kept outside the
    ticker and featured lists: a merge's dropped story)."""
    return {**_story_dict(story), "role": story.role}


def story_from_dict(data: dict) -> Story:
    role: Role = "featured" if data.get("role") == "featured" else "ticker"
    return _story_from_dict(data, role)


def _story_dict(story: Story) -> dict:
    out: dict[str, object] = {
        "title": story.title,
        "url": story.url,
        "published_at": story.published_at.isoformat() if story.published_at else None,
        "source": story.source,
    }
    if story.role == "featured" or story.paragraphs:
        out["paragraphs"] = list(story.paragraphs)
    if story.summary_html:
        out["summary_html"] = story.summary_html
    if story.image:
        out["image"] = {
            "url": story.image.url,
            "alt": story.image.alt,
            "width": story.image.width,
            "height": story.image.height,
        }
    return out


def _story_from_dict(data: dict, role: Role) -> Story:
    image = data.get("image")
    return Story(
        title=data["title"],
        role=role,
        source=data.get("source", ""),
        url=data.get("url"),
        published_at=datetime.fromisoformat(data["published_at"])
        if data.get("published_at")
        else None,
        paragraphs=tuple(data.get("paragraphs", ())),
        summary_html=data.get("summary_html"),
        image=Image(**image) if image else None,
    )


def _source_dict(result: SourceResult) -> dict:
    return {
        "name": result.name,
        "ok": result.ok,
        "stories": len(result.stories),
        "error": result.error,
        "warnings": list(result.warnings),
    }
