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


# --- what is not a source at all -------------------------------------------------------------

NOT_A_SOURCE = "not a feed, page or text dump"
# (prefix, description); checked at offset 0, longest signatures first where they overlap.
MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"\x7fELF", "an executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"OggS", "an Ogg media file"),
    (b"fLaC", "a FLAC audio file"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
    (b"\x00asm", "a WebAssembly module"),
)
_BZIP2 = re.compile(rb"\ABZh[1-9]1AY&SY")
_RIFF = {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file", b"AVI ": "an AVI video"}
# Types no feed, page or dump is ever served as. application/octet-stream is not among them:
# it means "unknown", and text files on object storage are often labelled so; the bytes decide.
BINARY_TYPES = (
    "image/",
    "audio/",
    "video/",
    "font/",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/x-rar",
    "application/msword",
    "application/vnd.ms-",
    "application/vnd.openxmlformats",
    "application/vnd.oasis.opendocument",
    "application/x-executable",
    "application/x-msdownload",
    "application/wasm",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def binary_kind(body: bytes, content_type: str | None = None) -> str | None:
    """Why these bytes are not a source ("is a PNG image"), or None when they may be one.

    A PNG given as a text dump decodes, with replacement characters, into hundreds of junk
    "stories"; this is asked before any parser sees the bytes.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(BINARY_TYPES) and not mime.endswith(("+xml", "/svg")):
        return f"is served as {mime}"
    for magic, what in MAGIC:
        if body.startswith(magic):
            return f"is {what}"
    if _BZIP2.match(body):
        return "is a bzip2 archive"
    if body[:4] == b"RIFF" and body[8:12] in _RIFF:
        return f"is {_RIFF[body[8:12]]}"
    if body[4:8] == b"ftyp":
        return "is an MP4/QuickTime media file"
    head = body[:SNIFF_BYTES]
    if _utf16(head):
        return None
    if b"\x00" in head:
        return "is binary data (it contains NUL bytes)"
    # Text has tabs, newlines and the odd form feed or escape; binary data of any kind has
    # control bytes throughout (about one byte in ten for random data).
    if len(_CONTROL.findall(head)) > max(4, len(head) // 50):
        return "is binary data (control bytes throughout)"
    return None


def _utf16(head: bytes) -> bool:
    # With a BOM, or an XML/HTML document starting "<" without one: NUL bytes are expected.
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    return head[:2] in (b"<\x00", b"\x00<")
