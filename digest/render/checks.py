"""Modest checks on a rendered edition: size against Gmail's clipping, and images.

The sentences are gettext messages (N_): the build's warnings read them in English (``gettext``
left out: the msgids), the draft page in its editor's language (digest/web/drafts.py passes its
translator's ``gettext``). Values are filled after translation, so a number or a file name is
never looked up in a catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import lxml.html
from lxml import etree

from digest.i18n import N_

GMAIL_CLIP_BYTES = 102_000
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = r'\s{name}\s*=\s*"([^"]*)"'
_STYLE_ATTR = re.compile(r'\sstyle\s*=\s*"[^"]*"', re.IGNORECASE)
_STYLE_TAG = re.compile(r"<style\b[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)


Gettext = Callable[[str], str]
NO_ALT = N_("Image %(name)s has no alt text.")
NO_WIDTH = N_("Image %(name)s has no pixel width.")


def _same(message: str) -> str:
    return message


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} KB"


def _by_class(root, name: str) -> list:
    return root.xpath(f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]")


def _bytes(el) -> int:
    return len(etree.tostring(el, encoding="utf-8", method="html", with_tail=False))


def size_breakdown(html: str, gettext: Gettext = _same) -> list[tuple[str, int, str]]:
    """(part, bytes, what to trim), biggest first. Only called when the HTML is too big."""
    _ = gettext
    parts: list[tuple[str, int, str]] = []
    inlined = sum(len(m.group(0).encode()) for m in _STYLE_ATTR.finditer(html))
    head = sum(len(m.group(0).encode()) for m in _STYLE_TAG.finditer(html))
    parts.append(
        (
            _("inlined CSS (style attributes)"),
            inlined,
            _("fewer items or simpler theme rules: every item carries its inlined styles"),
        )
    )
    parts.append((_("<head> styles"), head, _("the template's <mj-style> rules")))
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return sorted(parts, key=lambda p: -p[1])
    tickers = _by_class(root, "dg-ticker")
    rows = sum(len(t.xpath(".//td[contains(@class, 'dg-headline')]")) for t in tickers)
    parts.append(
        (
            _("ticker (%(rows)s items)") % {"rows": rows},
            sum(_bytes(t) for t in tickers),
            _("fewer ticker items (edition.ticker_max)"),
        )
    )
    stories = _by_class(root, "dg-story")
    paras = sum(len(s.xpath(".//p")) for s in stories)
    parts.append(
        (
            _("featured text (%(stories)s stories, %(paragraphs)s paragraphs)")
            % {"stories": len(stories), "paragraphs": paras},
            sum(_bytes(s) for s in stories),
            _("a shorter featured story or fewer featured stories (edition.featured_count)"),
        )
    )
    return sorted(parts, key=lambda p: -p[1])


def size_warning(html: str, limit: int, gettext: Gettext = _same) -> str | None:
    """A sentence saying how big the HTML is and what to trim, or None when it fits."""
    size = len(html.encode("utf-8"))
    if size <= limit:
        return None
    parts = size_breakdown(html, gettext)
    listed = "; ".join(f"{name} {_kb(n)}" for name, n, _ in parts[:4])
    biggest = parts[0]
    return gettext(
        "The HTML is %(size)s, over the %(limit)s limit (Gmail clips messages above about "
        "%(clip)s, hiding the footer and unsubscribe link). Biggest parts: %(parts)s. Trim "
        "first: %(trim)s."
    ) % {
        "size": _kb(size),
        "limit": _kb(limit),
        "clip": _kb(GMAIL_CLIP_BYTES),
        "parts": listed,
        "trim": biggest[2],
    }


def image_problems(html: str) -> list[tuple[str, str]]:
    """(NO_ALT or NO_WIDTH, the image's src) for each image without alt text or without a pixel
    width (should not happen with our templates)."""
    problems = []
    for tag in _IMG.findall(html):
        src = re.search(_ATTR.format(name="src"), tag, re.IGNORECASE)
        name = src.group(1) if src else "(no src)"
        if not re.search(r"\salt\s*=", tag, re.IGNORECASE):
            problems.append((NO_ALT, name))
        width = re.search(_ATTR.format(name="width"), tag, re.IGNORECASE)
        if not width or not width.group(1).isdigit():
            problems.append((NO_WIDTH, name))
    return problems


def image_warnings(html: str, gettext: Gettext = _same) -> list[str]:
    """The image problems as sentences, in ``gettext``'s language."""
    return [gettext(message) % {"name": name} for message, name in image_problems(html)]
