"""Scrape ticker items and featured stories out of an HTML page with CSS selectors.

Selector keys (``[sources.selectors]`` in the config); every one is optional except that a
page yields nothing without ``ticker_item`` or ``featured``/``featured_title``:

    ticker_item          each headline's container
    ticker_title         inside the item; default: its first link's text, else the item's
                         own text (minus the time)
    ticker_link          inside the item; default: the item itself if it is a link, else its
                         first a[href]
    ticker_time          inside the item; default "time". A ``datetime`` attribute (ISO 8601)
                         is used as is (no offset: the site's zone); otherwise an HH:MM in the
                         text is dated backwards from the reference time like the text dump
                         (``dating.BackwardsDater``, shared, not copied)
    featured             container of a featured story; several allowed, one story each.
                         Without it, ``featured_title`` alone means the whole page is one
    featured_title       inside the container; default "h1, h2, h3" (first match)
    featured_paragraphs  inside the container; default "p"; one paragraph per element
    featured_image       inside the container; default "img" (src, else data-src)
    featured_link        inside the container; default: the title's own, inner or
                         enclosing link

A selector that matches nothing inside one item falls back to the default for that key.

**Default selectors** (a page given on the command line, kind auto-detected, no config):
``article`` elements are ticker items, titled by their first h1/h2/h3 (else first link),
linked by the heading's link (else the first link), timed by ``time[datetime]``. No
featured story is guessed. When nothing matches, the result carries a warning saying so.

Everything is taken as plain text: script, style, template, iframe and friends are removed
with their content before any text is read, comments never count, no attribute is read
except href, src, data-src, alt, width, height and datetime, and every URL must come out
absolute http(s) after resolving against ``<base href>``, else the page URL, else the site
URL.
Featured stories without a time element get the reference time, as in the text dump.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from digest.errors import SourceError
from digest.models import Image, SourceResult, Story
from digest.sources.dating import BackwardsDater, parse_clock
from digest.sources.plain import (
    as_int,
    block_texts,
    charset_of,
    clean_line,
    decode_bytes,
    element_text,
    safe_url,
    strip_dangerous,
)

SELECTOR_KEYS = (
    "ticker_item",
    "ticker_title",
    "ticker_link",
    "ticker_time",
    "featured",
    "featured_title",
    "featured_paragraphs",
    "featured_image",
    "featured_link",
)
DEFAULT_SELECTORS = {
    "ticker_item": "article",
    "ticker_title": "h1, h2, h3",
    "ticker_link": "h1 a[href], h2 a[href], h3 a[href]",
    "ticker_time": "time",
}
# Per-key defaults used inside an item or container when its own selector is absent or empty.
FALLBACKS = {
    "ticker_time": "time",
    "featured_title": "h1, h2, h3",
    "featured_paragraphs": "p",
    "featured_image": "img",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:\-]+)""", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000]")


def parse_page(
    body: bytes,
    *,
    name: str,
    page_url: str | None,
    site_url: str | None,
    reference_time: datetime,
    tz: ZoneInfo,
    selectors: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> SourceResult:
    warnings: list[str] = []
    using_defaults = not selectors
    chosen = dict(selectors or DEFAULT_SELECTORS)
    unknown = sorted(set(chosen) - set(SELECTOR_KEYS))
    if unknown:
        warnings.append(f"unknown selector key(s) ignored: {', '.join(unknown)}")
    compiled = {key: _compile(key, chosen[key]) for key in SELECTOR_KEYS if chosen.get(key)}
    fallback = {key: _compile(key, sel) for key, sel in FALLBACKS.items()}

    doc, warning = _parse(body, content_type)
    if warning:
        warnings.append(warning)
    base = _base_url(doc, page_url, site_url)
    strip_dangerous(doc)  # after reading <base>: <head> goes with the scripts

    stories: list[Story] = []
    items = compiled["ticker_item"](doc) if "ticker_item" in compiled else []
    assert isinstance(items, list)  # a CSS selector's XPath always selects a list of elements
    dater = BackwardsDater(reference_time, tz)
    seen: set[tuple[str, str | None]] = set()
    skipped = duplicates = 0
    for item in items:
        story = _ticker_story(item, compiled, fallback, base, dater, tz, name)
        if story is None:
            skipped += 1
        elif (story.title, story.url) in seen:
            duplicates += 1
        else:
            seen.add((story.title, story.url))
            stories.append(story)

    containers = _featured_containers(doc, compiled)
    for container in containers:
        story = _featured_story(container, compiled, fallback, base, reference_time, tz, name)
        if story is None:
            skipped += 1
        else:
            stories.append(story)

    if skipped:
        warnings.append(f"skipped {skipped} matched element(s) with no title text")
    if duplicates:
        warnings.append(f"dropped {duplicates} repeated ticker item(s)")
    if "ticker_item" in compiled and not items:
        warnings.append(f"no element matched ticker_item {chosen['ticker_item']!r}")
    if ("featured" in compiled) and not containers:
        warnings.append(f"no element matched featured {chosen['featured']!r}")
    if not stories:
        hint = (
            " (default selectors; configure [sources.selectors] for this page)"
            if using_defaults
            else ""
        )
        warnings.append(f"the page gave no stories{hint}")
    return SourceResult(name=name, stories=tuple(stories), warnings=tuple(warnings))


def _compile(key: str, selector: str) -> CSSSelector:
    try:
        return CSSSelector(selector, translator="html")
    except SelectorError as exc:
        raise SourceError(f"selector {key} = {selector!r} is not valid CSS ({exc})") from None


def _parse(body: bytes, content_type: str | None):
    meta = _META_CHARSET.search(body[:4096])
    declared = meta.group(1).decode("ascii", "replace") if meta else None
    text, warning = decode_bytes(body, charset_of(content_type), declared)
    text = _CONTROL.sub("", text)
    # Re-encode and tell libxml2 the encoding: it would otherwise guess from a <meta> that
    # may be wrong, and a str with an XML declaration is refused outright.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise SourceError(f"the page could not be parsed as HTML ({exc})") from None
    return doc, warning


def _base_url(doc, page_url: str | None, site_url: str | None) -> str | None:
    fallback = safe_url(page_url, None) or safe_url(site_url, None)
    for base in doc.iter("base"):
        href = safe_url(base.get("href"), fallback)
        if href:
            return href
    return fallback


def _first(key: str, el, compiled, fallback):
    """First match of the key's selector inside ``el``, else of its fallback, else None."""
    for table in (compiled, fallback):
        if key in table:
            found = table[key](el)
            if found:
                return found[0]
    return None


def _first_link(el):
    if el.tag == "a" and el.get("href"):
        return el
    links = el.xpath(".//a[@href]")
    return links[0] if links else None


def _ticker_story(item, compiled, fallback, base, dater, tz, name) -> Story | None:
    # Explicit None tests throughout: an lxml element without children is falsy.
    link_el = _first("ticker_link", item, compiled, {})
    if link_el is None:
        link_el = _first_link(item)
    title_el = _first("ticker_title", item, compiled, {})
    time_el = _first("ticker_time", item, compiled, fallback)
    title = element_text(title_el) if title_el is not None else ""
    if not title and link_el is not None:
        title = element_text(link_el)
    if not title:
        title = element_text(item)
        if time_el is not None:
            title = title.replace(element_text(time_el), "", 1).strip()
    if not title:
        return None
    published = None
    if time_el is not None:
        published = _stamp(time_el, tz)
        if published is not None:
            dater.anchor(published)
        else:
            clock = parse_clock(element_text(time_el) or time_el.get("datetime") or "")
            published = dater.date(clock) if clock else None
    url = safe_url(link_el.get("href"), base) if link_el is not None else None
    return Story(title=title, role="ticker", source=name, url=url, published_at=published)


def _stamp(el, tz: ZoneInfo) -> datetime | None:
    raw = (el.get("datetime") or "").strip()
    if not raw or not re.match(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(tz)


def _featured_containers(doc, compiled) -> list:
    if "featured" in compiled:
        return compiled["featured"](doc)
    if "featured_title" in compiled:
        return [doc]
    return []


def _featured_story(container, compiled, fallback, base, reference_time, tz, name):
    title_el = _first("featured_title", container, compiled, fallback)
    title = element_text(title_el) if title_el is not None else ""
    if not title:
        return None
    paragraphs: list[str] = []
    matched: list[lxml.html.HtmlElement] = []
    for table in (compiled, fallback):
        if "featured_paragraphs" in table and not matched:
            matched = table["featured_paragraphs"](container)
    for el in matched:
        if any(anc in matched for anc in el.iterancestors()):
            continue  # nested match (div > p both selected): its text is already in
        for text in block_texts(el):
            if text != title and (not paragraphs or paragraphs[-1] != text):
                paragraphs.append(text)

    link_el = _first("featured_link", container, compiled, {})
    if link_el is None:
        link_el = _title_link(title_el)
    url = safe_url(link_el.get("href"), base) if link_el is not None else None

    time_el = container.find(".//time[@datetime]")
    published = _stamp(time_el, tz) if time_el is not None else None
    if published is None:
        published = (
            reference_time if reference_time.tzinfo else reference_time.replace(tzinfo=tz)
        ).astimezone(tz)
    image = _image(_first("featured_image", container, compiled, fallback), base, title)
    return Story(
        title=title,
        role="featured",
        source=name,
        url=url,
        published_at=published,
        paragraphs=tuple(paragraphs),
        image=image,
    )


def _title_link(title_el):
    if title_el.tag == "a" and title_el.get("href"):
        return title_el
    inner = title_el.xpath(".//a[@href]")
    if inner:
        return inner[0]
    outer = [a for a in title_el.iterancestors("a") if a.get("href")]
    return outer[0] if outer else None


def _image(el, base: str | None, title: str) -> Image | None:
    if el is None:
        return None
    if el.tag != "img":
        inner = el.xpath(".//img")
        if not inner:
            return None
        el = inner[0]
    # Lazy-loading pages keep the real address in data-src and a placeholder in src.
    for attr in ("data-src", "src"):
        url = safe_url(el.get(attr), base)
        if url:
            alt = clean_line(el.get("alt") or "") or title
            return Image(
                url=url, alt=alt, width=as_int(el.get("width")), height=as_int(el.get("height"))
            )
    return None
