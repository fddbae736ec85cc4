"""The data the templates see, built from an Edition and a Config (no I/O, no markup).

Both templates (HTML and text) get the same context; only ``slot`` differs: placeholder
tokens when rendering once per edition, or real values for a one-off render.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import lxml.html
from markupsafe import Markup

from digest.config import Config
from digest.i18n import translations
from digest.locale import direction, long_date, short_time
from digest.models import Edition, Story
from digest.render.colors import lighten
from digest.render.days import group_by_day
from digest.render.lede import lede
from digest.render.note import render_note
from digest.render.strings import strings
from digest.render.typography import for_locale
from digest.zones import zone

# Georgia and most Latin fonts have no Arabic letters; these do, on Windows (Tahoma, Segoe UI,
# Arial), Apple (Geeza Pro) and Android (Noto). They come first in a right-to-left edition.
ARABIC_FONTS = "Tahoma, 'Segoe UI', 'Geeza Pro', 'Noto Naskh Arabic', 'Noto Sans Arabic', Arial"
# Small headings are spaced capitals in Latin scripts; in Arabic, letter-spacing breaks the
# joins between letters, and there are no capitals.
HEADING_CAPS = {"ltr": "letter-spacing: 1px; text-transform: uppercase;", "rtl": ""}
CONTENT_WIDTH = 550  # 600 px body minus 25 px padding on each side
LOGO_WIDTH = 180
_BLOCKS = (
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "tr",
    "figure",
    "figcaption",
)


def html_lang(locale: str) -> str:
    """``fr_MA`` -> ``fr-MA`` (BCP 47, as the ``lang`` attribute wants it)."""
    return (locale or "en").replace("_", "-")


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def _paragraphs(value: str | None) -> list[str]:
    """Plain text split on blank lines, each paragraph on one line."""
    if not value:
        return []
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", value) if p.strip()]


def summary_text(summary_html: str) -> list[str]:
    """Paragraphs of text from an (already sanitized) HTML summary, for the text part."""
    try:
        root = lxml.html.fragment_fromstring(summary_html, create_parent="div")
    except Exception:  # noqa: BLE001 - lxml raises several kinds on odd input; the text part must not fail
        return _paragraphs(re.sub(r"<[^>]*>", " ", summary_html))
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for el in root.iter(*_BLOCKS):
        el.tail = "\n\n" + (el.tail or "")
        if el.tag == "li":
            el.text = "• " + (el.text or "")
    return _paragraphs(root.text_content())


def _image(story: Story) -> dict | None:
    image = story.image
    if image is None or not image.url:
        return None
    width = min(image.width, CONTENT_WIDTH) if image.width and image.width > 0 else CONTENT_WIDTH
    height = None
    if image.width and image.height and image.width > 0 and image.height > 0:
        height = max(1, round(image.height * width / image.width))
    return {
        "src": image.url,
        "alt": image.alt.strip() or story.title,
        "width": width,
        "height": height,
    }


def _featured(story: Story, count: int, site_url: str, fix: Callable[[str], str]) -> dict:
    paragraphs = [fix(p) for p in lede(story.paragraphs, count)]
    has_text = any(p.strip() for p in story.paragraphs)
    summary = story.summary_html if count > 0 and not has_text and story.summary_html else None
    image = _image(story)
    if image:
        image["alt"] = fix(image["alt"])
    return {
        "title": fix(story.title),
        "url": story.url or None,
        "cta_url": story.url or site_url,  # "Read more" always leads somewhere
        "image": image,
        "paragraphs": paragraphs,
        "summary_html": summary,  # markup: the typography works on plain text only
        "text_paragraphs": paragraphs
        or [fix(p) for p in (summary_text(summary) if summary else [])],
    }


# Invisible characters after the preheader, so that an inbox preview shows nothing of the
# body (site name, date, greeting) after it: zero-width non-joiner, combining grapheme joiner.
PREHEADER_FILLER = "&#847;&zwnj;&nbsp;" * 60


def _ticker_item(story: Story, tz: ZoneInfo, locale: str, fix: Callable[[str], str]) -> dict:
    time = short_time(_local(story.published_at, tz), locale) if story.published_at else ""
    return {"time": time, "title": fix(story.title), "url": story.url or None}


def build_context(
    edition: Edition,
    config: Config,
    list_title: str,
    slot: Mapping[str, str],
    *,
    variant: bool = False,
) -> dict:
    locale = edition.locale or config.site.locale
    tz = zone(edition.timezone or config.site.timezone)
    dir_ = direction(locale)
    fix = for_locale(locale)  # French spacing; every text below goes through it
    ui = {key: fix(value) for key, value in strings(locale).items()}
    start, end = ("right", "left") if dir_ == "rtl" else ("left", "right")
    theme = config.theme
    if dir_ == "rtl":  # the templates name theme.font_family everywhere text is
        theme = dataclasses.replace(theme, font_family=f"{ARABIC_FONTS}, {theme.font_family}")
    preheader = edition.preheader.strip() or next(
        (s.title for s in (*edition.featured, *edition.ticker)), ""
    )
    note = render_note(edition.note, fix)
    groups = [
        (label, [_ticker_item(s, tz, locale, fix) for s in items])
        for label, items in group_by_day(edition.ticker, edition.reference_time, tz, ui, locale)
    ]
    return {
        "lang": html_lang(locale),
        "translations": translations(locale),
        "dir": dir_,
        "start": start,
        "end": end,
        "s": ui,
        "sep": ui["sep"],
        "theme": theme,
        "heading_caps": Markup(HEADING_CAPS[dir_]),
        "site": {
            "name": config.site.name,
            "url": config.site.url,
            "logo_url": theme.logo_url,
            "logo_width": getattr(theme, "logo_width", None) or LOGO_WIDTH,
            "logo_height": getattr(theme, "logo_height", None),
        },
        "subject": fix(edition.subject),
        "preheader": fix(preheader),
        "date": long_date(_local(edition.reference_time, tz), locale),
        "list_title": fix(list_title),
        # The note's light formatting (digest/render/note.py): sanitized HTML paragraphs for the
        # HTML part, and the same paragraphs in plain text, line breaks kept ("note", which a
        # site's own templates may already use).
        "note": list(note.text),
        "note_html": list(note.html),
        "featured": [
            _featured(s, config.edition.featured_paragraphs, config.site.url, fix)
            for s in edition.featured
        ],
        "ticker": [item for _, items in groups for item in items],
        "ticker_groups": groups,
        "archive_url": f"{config.site.public_url}/archive/{edition.id}"
        + (f"?lang={quote(locale)}" if variant else ""),
        "preheader_filler": Markup(PREHEADER_FILLER),
        "dark": {"primary": lighten(theme.primary_color), "link": lighten(theme.link_color)},
        "why": fix(ui["why"].format(list=list_title)),
        "visit_site": fix(ui["visit_site"].format(site=config.site.name)),
        "postal_address": " ".join(config.site.postal_address.split()),
        "slot": dict(slot),
    }


def edition_texts(edition: Edition) -> str:
    """Every piece of source text in an edition, joined (to rule out forged tokens)."""
    parts = [edition.subject, edition.preheader, edition.note or ""]
    for story in (*edition.featured, *edition.ticker):
        parts += [story.title, story.url or "", story.summary_html or "", *story.paragraphs]
        if story.image:
            parts += [story.image.url, story.image.alt]
    return "\n".join(parts)
