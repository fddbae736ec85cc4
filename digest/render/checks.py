"""Modest checks on a rendered edition: size against Gmail's clipping, and images."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

GMAIL_CLIP_BYTES = 102_000
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = r'\s{name}\s*=\s*"([^"]*)"'
_STYLE_ATTR = re.compile(r'\sstyle\s*=\s*"[^"]*"', re.IGNORECASE)
_STYLE_TAG = re.compile(r"<style\b[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} KB"


def _by_class(root, name: str) -> list:
    return root.xpath(f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]")


def _bytes(el) -> int:
    return len(etree.tostring(el, encoding="utf-8", method="html", with_tail=False))


def size_breakdown(html: str) -> list[tuple[str, int, str]]:
    """(part, bytes, what to trim), biggest first. Only called when the HTML is too big."""
    parts: list[tuple[str, int, str]] = []
    inlined = sum(len(m.group(0).encode()) for m in _STYLE_ATTR.finditer(html))
    head = sum(len(m.group(0).encode()) for m in _STYLE_TAG.finditer(html))
    parts.append(
        (
            "inlined CSS (style attributes)",
            inlined,
            "fewer items or simpler theme rules: every item carries its inlined styles",
        )
    )
    parts.append(("<head> styles", head, "the template's <mj-style> rules"))
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return sorted(parts, key=lambda p: -p[1])
    tickers = _by_class(root, "dg-ticker")
    rows = sum(len(t.xpath(".//td[contains(@class, 'dg-headline')]")) for t in tickers)
    parts.append(
        (
            f"ticker ({rows} items)",
            sum(_bytes(t) for t in tickers),
            "fewer ticker items (edition.ticker_max)",
        )
    )
    stories = _by_class(root, "dg-story")
    paras = sum(len(s.xpath(".//p")) for s in stories)
    parts.append(
        (
            f"featured text ({len(stories)} stories, {paras} paragraphs)",
            sum(_bytes(s) for s in stories),
            "a shorter featured story or fewer featured stories (edition.featured_count)",
        )
    )
    return sorted(parts, key=lambda p: -p[1])


def size_warning(html: str, limit: int) -> str | None:
    """A sentence saying how big the HTML is and what to trim, or None when it fits."""
    size = len(html.encode("utf-8"))
    if size <= limit:
        return None
    parts = size_breakdown(html)
    listed = "; ".join(f"{name} {_kb(n)}" for name, n, _ in parts[:4])
    biggest = parts[0]
    return (
        f"The HTML is {_kb(size)}, over the {_kb(limit)} limit (Gmail clips messages above "
        f"about {_kb(GMAIL_CLIP_BYTES)}, hiding the footer and unsubscribe link). "
        f"Biggest parts: {listed}. Trim first: {biggest[2]}."
    )


def image_warnings(html: str) -> list[str]:
    """Images without alt text or without a pixel width (should not happen with our templates)."""
    warnings = []
    for tag in _IMG.findall(html):
        src = re.search(_ATTR.format(name="src"), tag, re.IGNORECASE)
        name = src.group(1) if src else "(no src)"
        if not re.search(r"\salt\s*=", tag, re.IGNORECASE):
            warnings.append(f"Image {name} has no alt text.")
        width = re.search(_ATTR.format(name="width"), tag, re.IGNORECASE)
        if not width or not width.group(1).isdigit():
            warnings.append(f"Image {name} has no pixel width.")
    return warnings
