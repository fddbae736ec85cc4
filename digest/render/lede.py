"""The featured story as a lede: its first paragraph(s), a long one cut where a reader stops.

A phone shows about 900 px before the reader scrolls; six paragraphs of the featured story
pushed the headlines 2.6 screens down. The lede keeps ``featured_paragraphs`` paragraphs and
cuts a long one at a sentence end (else a word end) near ``LEDE_CHARS``, with an ellipsis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LEDE_CHARS = 300
_SENTENCE_END = re.compile(r"[.!?…؟»\"”)]\s")
ELLIPSIS = "…"


def cut(paragraph: str, limit: int = LEDE_CHARS) -> str:
    """``paragraph`` if it is short; else cut at the last sentence end before ``limit`` (when it
    keeps at least half), else at the last word end, followed by an ellipsis."""
    text = " ".join(paragraph.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= limit // 2:
        return head[: ends[-1]].rstrip() + " " + ELLIPSIS
    word = head.rsplit(" ", 1)[0] if " " in head else text[:limit]
    return word.rstrip(" ,;:–—-") + ELLIPSIS


def lede(paragraphs: Sequence[str], count: int, limit: int = LEDE_CHARS) -> list[str]:
    """The first ``count`` non-empty paragraphs, each cut to about ``limit`` characters."""
    if count <= 0:
        return []
    return [cut(p, limit) for p in paragraphs if p.strip()][:count]
