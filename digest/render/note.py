"""The editor's note: plain text with a tiny Markdown subset, made into sanitized HTML for the
email and a faithful plain-text form for its text part.

    blank line       a new paragraph
    line break       a line break (<br>)
    **words**        bold (<strong>); *words* in the text part
    [text](https://…) a link (http and https only); "text (https://…)" in the text part

Anything else is text: HTML typed into the note is shown as typed (escaped), and a link to any
other scheme (``javascript:``, ``data:``) stays plain text. The HTML is then cleaned by nh3,
allowing only p, br, strong and a[href] with http/https, so that a mistake in this small parser
can never let markup through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = {"p", "br", "strong", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
SCHEMES = {"http", "https"}

_INLINE = re.compile(
    r"\*\*(?P<bold>[^*\n]+?)\*\*|\[(?P<text>[^\]\n]+)\]\((?P<url>https?://[^\s()<>\"']+)\)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Note:
    html: tuple[Markup, ...]  # each paragraph's inner HTML (sanitized)
    text: tuple[str, ...]  # each paragraph in plain text, its line breaks kept


def paragraphs(note: str | None) -> list[list[str]]:
    """Paragraphs (split on blank lines), each a list of its lines (spaces collapsed)."""
    if not note:
        return []
    out = []
    for para in re.split(r"\n[ \t\r\f\v]*\n", note.replace("\r\n", "\n")):
        lines = [" ".join(line.split()) for line in para.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            out.append(lines)
    return out


def _line(line: str, fix: Callable[[str], str]) -> tuple[str, str]:
    """One line as (HTML, text)."""
    html, text, at = [], [], 0
    for m in _INLINE.finditer(line):
        plain = fix(line[at : m.start()])
        html.append(str(escape(plain)))
        text.append(plain)
        if m.group("bold"):
            bold = fix(m.group("bold"))
            html.append(f"<strong>{escape(bold)}</strong>")
            text.append(f"*{bold}*")
        else:
            label, url = fix(m.group("text")), m.group("url")
            html.append(f'<a href="{escape(url)}">{escape(label)}</a>')
            text.append(url if label == url else f"{label} ({url})")
        at = m.end()
    rest = fix(line[at:])
    html.append(str(escape(rest)))
    text.append(rest)
    return "".join(html), "".join(text)


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def render_note(note: str | None, fix: Callable[[str], str] = str) -> Note:
    """``fix``: the locale's typography (French spaces), applied to the text pieces only."""
    html, text = [], []
    for lines in paragraphs(note):
        parts = [_line(line, fix) for line in lines]
        html.append(Markup(sanitize("<br>".join(h for h, _ in parts))))
        text.append("\n".join(t for _, t in parts))
    return Note(tuple(html), tuple(text))
