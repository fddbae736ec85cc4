"""Read RSS 2.0, RSS 1.0 (RDF) and Atom feeds into stories, with feedparser.

Everything in a feed is untrusted. What we keep, and how:

- Title: plain text. HTML titles are reduced to their text; tags that slipped into a "plain"
  title (double-escaped feeds) are stripped and entities unescaped. Leading/trailing and
  repeated whitespace collapse. An item without a title borrows the start of its text; an
  item with neither is skipped (counted in a warning).
- Link: absolute http(s) only, resolved against the feed's base (xml:base, else the feed
  URL, else the site URL for a local file). ``javascript:``, ``data:`` and the like become
  None.
- Date: published, else updated (dc:date lands here), else created, as an aware UTC
  datetime. Two real-world fallbacks feedparser does not cover: a ``<time datetime=..>``
  inside pubDate, and numeric dates such as ``22.11.2022 12:16:00`` (no zone: read in the
  site's zone). **Undated items are kept** with ``published_at=None`` and one warning
  counts them; the edition builder treats None as "undated, counts as current".
- summary_html: the item's summary (else its content), sanitized by nh3 to a small
  allowlist; links keep only absolute http/https/mailto hrefs and get
  rel="noopener noreferrer"; images, scripts, styles and event handlers never pass.
- paragraphs: plain text, one per block, from whichever of content/summary has more text.
- image: media:content that is an image (medium="image", an image/* type, or an untyped
  URL with an image extension), else an image enclosure (image/* type or image extension),
  else media:thumbnail. Alt text is the story title: the image illustrates the story, and
  feedparser folds media:description into the item's summary rather than the image.
- Role: the source's configured role, else "ticker".
- Broken XML: feedparser recovers what it can ("bozo"). Recovered items are kept with a
  warning; a feed with no recoverable item is an error sentence, never a traceback. Blank
  lines before the XML declaration (a common server-side slip) are removed before parsing,
  since they make a strict XML parser give up on an otherwise sound feed.
"""

from __future__ import annotations

import codecs
import html
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import nh3

from digest.models import Image, Role, SourceResult, Story
from digest.sources.plain import as_int, clean_line, html_paragraphs, html_to_text, safe_url

SUMMARY_TAGS = {"p", "br", "b", "strong", "i", "em", "a", "ul", "ol", "li", "blockquote"}
MAIL_SCHEMES = {"http", "https", "mailto"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
NUMERIC_DATES = (
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
)
TITLE_FROM_TEXT = 120
# feedparser reports a missing or non-XML Content-Type as bozo; that says nothing about the
# feed itself (local files have no Content-Type at all).
HARMLESS_BOZO = (feedparser.NonXMLContentType,)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]\w*);")


def parse_feed(
    body: bytes,
    *,
    name: str,
    base_url: str | None,
    content_type: str | None = None,
    role: str | None = None,
    tz: ZoneInfo | None = None,
) -> SourceResult:
    headers = {"content-type": _xml_content_type(content_type)}
    if base_url:
        headers["content-location"] = base_url
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]  # UTF-8 is the XML default; the BOM hides blanks
    parsed = feedparser.parse(
        body.lstrip(b" \t\r\n"),
        response_headers=headers,
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    entries = parsed.get("entries") or []
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(bozo, HARMLESS_BOZO):
        bozo = None

    if not entries:
        if bozo is not None:
            return SourceResult(
                name=name, error=(f"Source '{name}' is not a readable feed: {_bozo_text(bozo)}.")
            )
        if not parsed.get("version"):
            return SourceResult(
                name=name,
                error=(
                    f"Source '{name}' is not an RSS or Atom feed (no channel or feed element found)."
                ),
            )
        return SourceResult(name=name, warnings=(f"the feed '{name}' has no items",))

    warnings: list[str] = []
    stories: list[Story] = []
    undated = untitled = 0
    for entry in entries:
        story = _story(entry, name=name, role=_feed_role(role), base=base_url, tz=tz)
        if story is None:
            untitled += 1
            continue
        if story.published_at is None:
            undated += 1
        stories.append(story)
    if bozo is not None:
        warnings.append(
            f"the feed is not well-formed XML ({_bozo_text(bozo)}); "
            f"{len(stories)} item(s) were recovered"
        )
    if untitled:
        warnings.append(f"skipped {untitled} item(s) with neither a title nor any text")
    if undated:
        warnings.append(
            f"{undated} of {len(stories)} item(s) have no date; they are treated as current"
        )
    if not stories:
        return SourceResult(
            name=name,
            error=f"Source '{name}' has items but none with a title or text.",
            warnings=tuple(warnings),
        )
    return SourceResult(name=name, stories=tuple(stories), warnings=tuple(warnings))


def _feed_role(role: str | None) -> Role:
    """The role every story of the feed takes: the source's, else "ticker"."""
    if role is None or role == "ticker":
        return "ticker"
    if role == "featured":
        return "featured"
    # digest.config accepts only the two roles; anything else is a caller's bug.
    raise ValueError(f"a story role is 'ticker' or 'featured', not {role!r}")


def _story(entry, *, name: str, role: Role, base: str | None, tz: ZoneInfo | None) -> Story | None:
    summary = _summary_source(entry)
    richest = max(_html_bodies(entry), key=lambda h: len(html_to_text(h)), default="")
    paragraphs = html_paragraphs(richest)
    title = _title(entry)
    if not title:
        if not paragraphs:
            return None
        title = _shorten(paragraphs[0])
    return Story(
        title=title,
        role=role,
        source=name,
        url=_link(entry, base),
        published_at=_date(entry, tz),
        paragraphs=paragraphs,
        summary_html=sanitize_summary(summary, base),
        image=_image(entry, title, base),
    )


def _title(entry) -> str:
    detail = entry.get("title_detail") or {}
    value = entry.get("title") or ""
    if "html" in (detail.get("type") or ""):
        value = html_to_text(value)
    if _TAG.search(value) or _ENTITY.search(value):
        # Tags or entities left after one decoding: the producer escaped the title twice.
        value = html.unescape(_TAG.sub("", value))
    return clean_line(value)


def _shorten(text: str) -> str:
    if len(text) <= TITLE_FROM_TEXT:
        return text
    cut = text[:TITLE_FROM_TEXT].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def _html_bodies(entry) -> list[str]:
    bodies = [c.get("value") or "" for c in entry.get("content") or []]
    bodies.append(entry.get("summary") or "")
    return [b for b in bodies if b]


def _summary_source(entry) -> str:
    if entry.get("summary"):
        return entry["summary"]
    contents = entry.get("content") or []
    return contents[0].get("value", "") if contents else ""


def sanitize_summary(fragment: str, base: str | None) -> str | None:
    """Untrusted feed HTML reduced to a small, inert allowlist; None when no text remains."""
    if not fragment or not fragment.strip():
        return None
    base_ok = safe_url(base, None)
    cleaned = nh3.clean(
        fragment,
        tags=SUMMARY_TAGS,
        clean_content_tags={
            "script",
            "style",
            "noscript",
            "template",
            "iframe",
            "object",
            "textarea",
            "title",
        },
        attributes={"a": {"href"}},
        url_schemes=MAIL_SCHEMES,
        # Relative links are useless in an email: resolve them or drop them. An empty href
        # (what feedparser leaves of a javascript: link) must not become a link to the base.
        url_relative=lambda url: safe_url(url, base_ok) if url.strip() else None,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()
    return cleaned if html_to_text(cleaned) else None


def _link(entry, base: str | None) -> str | None:
    candidates = [entry.get("link")]
    candidates += [
        link.get("href")
        for link in entry.get("links") or []
        if link.get("rel", "alternate") == "alternate"
    ]
    if entry.get("guidislink"):
        candidates.append(entry.get("id"))
    for href in candidates:
        url = safe_url(href, base)
        if url:
            return url
    return None


def _date(entry, tz: ZoneInfo | None) -> datetime | None:
    # dict.get, not entry.get: FeedParserDict quietly answers "updated" with "published"
    # (with a DeprecationWarning), which would hide which field the date came from.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)
        if parsed:
            try:
                return datetime(*parsed[:6]).replace(tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    # <pubDate><time datetime="..."> (Drupal): feedparser keeps the inner element's attributes.
    inner = entry.get("time")
    stamp = inner.get("datetime") if isinstance(inner, dict) else None
    if stamp:
        found = _iso(stamp, tz)
        if found:
            return found
    for key in ("published", "updated", "created"):
        raw = (dict.get(entry, key) or "").strip()
        for fmt in NUMERIC_DATES:
            try:
                naive = datetime.strptime(raw, fmt)
            except ValueError:
                continue
            return naive.replace(tzinfo=tz or UTC).astimezone(UTC)
    return None


def _iso(text: str, tz: ZoneInfo | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz or UTC)
    return moment.astimezone(UTC)


def _image(entry, title: str, base: str | None) -> Image | None:
    alt = title
    for media in entry.get("media_content") or []:
        if _is_image(media.get("url"), media.get("type"), media.get("medium")):
            image = _make_image(media, base, alt)
            if image:
                return image
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and _is_image(link.get("href"), link.get("type"), None):
            image = _make_image({"url": link.get("href")}, base, alt)
            if image:
                return image
    for thumb in entry.get("media_thumbnail") or []:
        image = _make_image(thumb, base, alt)
        if image:
            return image
    return None


def _is_image(url: str | None, mime: str | None, medium: str | None) -> bool:
    if not url:
        return False
    mime = (mime or "").split(";", 1)[0].strip().lower()
    medium = (medium or "").strip().lower()
    if medium == "image" or mime.startswith("image/"):
        return True
    if medium or mime:
        return False  # declared as something else: trust the declaration
    return urlsplit(url).path.lower().endswith(IMAGE_EXTENSIONS)


def _make_image(media: dict, base: str | None, alt: str) -> Image | None:
    url = safe_url(media.get("url"), base)
    if not url:
        return None
    return Image(
        url=url, alt=alt, width=as_int(media.get("width")), height=as_int(media.get("height"))
    )


def _xml_content_type(content_type: str | None) -> str:
    # feedparser trusts an XML Content-Type's charset and is suspicious of anything else.
    # Keep the header when it is XML *with* a charset. Otherwise say application/xml and let
    # the XML declaration name the encoding: a bare text/xml would make feedparser apply the
    # obsolete RFC 3023 us-ascii default and complain about every non-ASCII feed.
    if content_type and "xml" in content_type.lower() and "charset" in content_type.lower():
        return content_type
    return "application/xml"


def _bozo_text(exc: BaseException) -> str:
    text = str(getattr(exc, "getMessage", lambda: exc)()).strip() or type(exc).__name__
    line = getattr(exc, "getLineNumber", None)
    if callable(line):
        try:
            text += f" at line {line()}"
        except Exception:  # noqa: BLE001 - a position is a nicety, never worth failing for
            pass
    return text
