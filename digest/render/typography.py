"""French typography for the email's text: the non-breaking spaces French puts around
punctuation, so a line never starts with "?" or "»" and "4,4 %" never splits.

Rules, for the French variants (locale ``fr`` or ``fr_*``), on plain text:

- before ``: ; ! ?`` and ``»``, and after ``«``: a space becomes a no-break space; one is
  added where none was typed (``Enfin!`` -> ``Enfin !``, ``«oui»`` -> ``« oui »``), but before
  ``: ; ! ?`` only after a letter and when the sign ends a word, so ``07:30``, ``16:9`` and
  ``2:1`` stay as they are;
- between a number and ``%`` or ``‰``: a no-break space, added if missing (``4,4%``);
- never inside a URL, an email address or an HTML tag (they are passed through untouched);
- a space that is already a no-break one (U+00A0 or U+202F) is left as it is, so the function
  is idempotent and keeps a source's own choice.

The space added is U+00A0 (NO-BREAK SPACE), not the typographers' narrower U+202F: every font
and mail client has U+00A0 (it is ``&nbsp;``), while U+202F is missing from the fonts emails
fall back on in older Windows and Outlook (Georgia among them), where it shows as a box or a
full-width gap. Both keep the sign on its word's line, which is what the reader notices.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NBSP = "\u00a0"

# Passed through untouched: HTML tags, URLs (with a scheme, or www.), email addresses.
_PROTECTED = re.compile(
    r"<[^<>]*>"
    r"|\b(?:https?|ftp|mailto):\S+"
    r"|\bwww\.\S+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    re.IGNORECASE,
)
_TYPED_SPACE = "[ \t]"  # what a writer types; no-break spaces already there are kept
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Pourquoi ?" / "Titre : suite" / "oui »": the typed space becomes a no-break one.
    (re.compile(rf"{_TYPED_SPACE}+(?=[:;!?»])"), NBSP),
    # "Enfin!" / "Attention: danger": none typed after a letter, the sign ending a word.
    (re.compile(r"(?<=[^\W\d_])(?=[:;!?]+(?:\s|$|[»\"”’)\]]))"), NBSP),
    # "«oui" / "« oui": a no-break space after the opening guillemet.
    (re.compile(rf"«{_TYPED_SPACE}*(?=[^\s])"), "«" + NBSP),
    # "oui»": none typed before the closing guillemet.
    (re.compile(r"(?<=[^\s«])»"), NBSP + "»"),
    # "4,4 %" / "4,4%": a no-break space between the number and the sign.
    (re.compile(rf"(?<=\d){_TYPED_SPACE}*(?=[%‰])"), NBSP),
)


def _spaced(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def french(text: str) -> str:
    """``text`` with French no-break spaces (see the module's rules); URLs and tags untouched."""
    if not text:
        return text
    out: list[str] = []
    pos = 0
    for match in _PROTECTED.finditer(text):
        out += [_spaced(text[pos : match.start()]), match.group()]
        pos = match.end()
    out.append(_spaced(text[pos:]))
    return "".join(out)


def _unchanged(text: str) -> str:
    return text


def for_locale(locale: str) -> Callable[[str], str]:
    """The typography of ``locale``'s text: French rules for ``fr``/``fr_*``, else none."""
    language = (locale or "").replace("-", "_").split("_", 1)[0].lower()
    return french if language == "fr" else _unchanged
