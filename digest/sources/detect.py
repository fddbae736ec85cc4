"""Guess what kind of source some bytes are: a feed, an HTML page, or a plain-text dump.

Used when a source's kind is "auto" (every location given on the command line). The content
decides: servers routinely label feeds ``text/html`` and text dumps ``text/html`` too, so the
Content-Type header is only consulted when the first element is not one we recognise.

What we look at is the first element after the prologue an XML or HTML document may start
with: a byte-order mark, whitespace, an XML declaration, processing instructions, comments,
and a DOCTYPE (``<!DOCTYPE html>`` alone settles it: page).
"""

from __future__ import annotations

import codecs
import re

SNIFF_BYTES = 4096

FEED_ROOTS = {"rss", "feed", "rdf"}  # rdf:RDF compares by local name
# Elements that only start an HTML document (an HTML5 page may omit <html> and <head>).
HTML_ROOTS = {"html", "head", "body", "meta", "title", "link", "base"}

_PROLOGUE = re.compile(
    r"""(?:
        \s+                          # whitespace (feeds served after PHP blank lines)
      | <\?.*?\?>                    # XML declaration, processing instructions
      | <!--.*?-->                   # comments
      | <!DOCTYPE(?!\s+html\b)[^>\[]*(?:\[.*?\])?\s*>   # non-HTML doctype, maybe with a subset
    )""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_XML_DECL = re.compile(r"<\?xml\s", re.IGNORECASE)
_DOCTYPE_HTML = re.compile(r"\A<!DOCTYPE\s+html\b", re.IGNORECASE)
_FIRST_TAG = re.compile(r"\A<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)")


def detect_kind(body: bytes, content_type: str | None = None) -> str:
    """Return "rss", "page" or "text" for these bytes."""
    head = _decode_head(body[:SNIFF_BYTES])
    pos = 0
    xml_declared = bool(_XML_DECL.match(head.lstrip()))
    # Skip the prologue one piece at a time; bounded by the sniff window.
    while True:
        match = _PROLOGUE.match(head, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
    rest = head[pos:]
    if _DOCTYPE_HTML.match(rest):
        return "page"
    tag = _FIRST_TAG.match(rest)
    if tag:
        name = tag.group(1).lower()
        local = name.rsplit(":", 1)[-1]
        if local in FEED_ROOTS:
            return "rss"
        if name in HTML_ROOTS:
            return "page"
        # Markup whose first element tells us nothing (a fragment, an unknown root):
        # this is where the Content-Type header gets a say.
        mime = (content_type or "").split(";", 1)[0].strip().lower()
        if mime in ("text/html", "application/xhtml+xml"):
            return "page"
        if mime.endswith("xml"):  # rss+xml, atom+xml, rdf+xml, and plain XML alike
            return "rss"
        if _looks_like_html(rest):
            return "page"
        # Some other XML document: only the feed reader can say something useful about it
        # ("not an RSS or Atom feed"); the text reader would print its tags as a story.
        return "rss" if xml_declared else "text"
    # Not markup at all: a text dump, even when the server calls it text/html.
    return "text"


def _decode_head(head: bytes) -> str:
    # UTF-16 feeds exist; everything else is ASCII-compatible for the bytes we look at.
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def _looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(?:div|p|article|section|ul|a|h[1-6]|main|header)\b", text, re.I))
