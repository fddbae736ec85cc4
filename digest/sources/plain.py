"""Plain text and safe URLs out of untrusted input, shared by the text, feed and page readers.

Story fields are plain text (models.Story): markup in them would be escaped by the renderer
and show up as literal tags, so every reader funnels titles and paragraphs through here.
"""

from __future__ import annotations

import codecs
import copy
import re
import unicodedata
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

# Control characters other than tab/newline: invisible, and lxml refuses strings holding them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000]")
# Every Unicode space (NBSP, thin space, ideographic space...) plus ordinary whitespace.
_SPACE = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# Direction marks a right-to-left page may put at the edges of a line; harmless inside text
# (so kept there) but they hide a line's first character from pattern matching.
EDGE_MARKS = "\u200e\u200f\u061c\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# Content of these never reaches a reader; they are removed before any text is taken.
DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "head",
    "title",
    "select",
    "textarea",
    "button",
    "form",
)
BLOCK_TAGS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "section",
    "article",
    "aside",
    "header",
    "footer",
    "figure",
    "figcaption",
    "table",
    "tr",
    "td",
    "th",
    "dd",
    "dt",
    "dl",
    "hr",
    "main",
    "br",
}
SAFE_SCHEMES = ("http", "https")
_BREAK = "\ue000"


def clean_line(text: str) -> str:
    """One line of plain text: control characters gone, every run of spaces one space."""
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text).strip().strip(EDGE_MARKS).strip()


def normalize(text: str) -> str:
    """NFC, so the same title typed two ways compares equal (and renders the same)."""
    return unicodedata.normalize("NFC", text)


def html_fragment(html: str) -> lxml.html.HtmlElement | None:
    """Parse an HTML fragment into one element, with dangerous subtrees removed."""
    html = _CONTROL.sub("", html or "")
    if not html.strip():
        return None
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    strip_dangerous(root)
    return root


def strip_dangerous(root) -> None:
    """Drop script-like elements together with their content (their text is not prose)."""
    for el in list(root.iter(*DROP_TAGS)):
        if el is not root:
            el.drop_tree()


def element_text(el) -> str:
    """All text under an element as one line. Comments and processing instructions excluded."""
    return clean_line(normalize("".join(_texts(el))))


def _texts(el):
    """Text and tails in document order, skipping comments and dropped elements' content.

    Iterative, not recursive: hostile HTML can nest deeper than Python's recursion limit.
    """
    stack = [(False, el)]
    while stack:
        is_tail, node = stack.pop()
        if is_tail:
            yield node.tail
            continue
        if node is not el and node.tail:
            stack.append((True, node))  # popped after the node's children
        if isinstance(node, (etree._Comment, etree._ProcessingInstruction, etree._Entity)):
            continue
        if node is not el and node.tag in DROP_TAGS:
            continue
        if node.text:
            yield node.text
        stack.extend((False, child) for child in reversed(node))


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment, on one line."""
    root = html_fragment(html)
    return element_text(root) if root is not None else ""


def html_paragraphs(html: str) -> tuple[str, ...]:
    """One plain-text paragraph per block (p, li, blockquote, heading, br-separated line...)."""
    root = html_fragment(html)
    if root is None:
        return ()
    return block_texts(root)


def block_texts(root) -> tuple[str, ...]:
    # Mark every block boundary, then split: simpler and closer to how a browser lays text
    # out than guessing where paragraphs end while walking the tree. The mark is a private-use
    # character, not "\n": newlines inside HTML text are plain whitespace. Works on a copy so
    # the caller's tree is left as it was.
    root = copy.deepcopy(root)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in BLOCK_TAGS and el is not root:
            el.tail = _BREAK + (el.tail or "")
            if el.tag != "br":
                el.text = _BREAK + (el.text or "")
    text = "".join(_texts(root))
    lines = (clean_line(normalize(line)) for line in text.split(_BREAK))
    return tuple(line for line in lines if line)


def safe_url(href: str | None, base: str | None) -> str | None:
    """An absolute http(s) URL, resolved against ``base``; None for anything else.

    Browsers ignore tabs and newlines inside URLs ("java\\tscript:" runs), so they are
    removed before the scheme is checked.
    """
    if not href:
        return None
    href = re.sub(r"[\t\n\r]", "", href).strip().strip(EDGE_MARKS).strip()
    if not href:
        return None
    try:
        url = urljoin(base, href) if base else href
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    if any(c in url for c in " \"'<>\\`") or _CONTROL.search(url):
        url = _quote_unsafe(url)
    return url


def _quote_unsafe(url: str) -> str:
    # Spaces and quotes are not legal in a URL; percent-encode rather than drop the link.
    return re.sub(r"""[ "'<>\\`\x00-\x1f\x7f]""", lambda m: f"%{ord(m.group()):02X}", url)


def as_int(value) -> int | None:
    """Width/height attributes: a positive whole number, else None ("640px", "auto"...)."""
    if value is None:
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and 0 < int(text) < 100_000:
        return int(text)
    return None


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    match = re.search(r"""charset\s*=\s*["']?([\w.:\-]+)""", content_type or "", re.I)
    return match.group(1) if match else None


def decode_bytes(body: bytes, *declared: str | None) -> tuple[str, str | None]:
    """Text from bytes, and a warning when some of it could not be decoded.

    Order: a byte-order mark; then strict UTF-8 (bytes in another encoding almost never
    pass as valid UTF-8, while servers often *declare* ISO-8859-1 for UTF-8 text); then each
    declared charset; last, UTF-8 with undecodable bytes replaced by U+FFFD.
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            text = body[len(bom) :].decode(codec, errors="replace")
            return text, _replaced_warning(text)
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    for charset in declared:
        if not charset:
            continue
        try:
            return body.decode(charset), None
        except (UnicodeDecodeError, LookupError):
            continue
    text = body.decode("utf-8", errors="replace")
    return text, _replaced_warning(text)


def _replaced_warning(text: str) -> str | None:
    count = text.count("\ufffd")
    if not count:
        return None
    return f"the text is not valid in its encoding; {count} undecodable character(s) were replaced"
