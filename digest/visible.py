"""Text from outside (headlines, error bodies, addresses) made safe to show on a terminal or in
a log line: every character that could drive the terminal or reorder what is shown is replaced
by a visible escape (``\\x1b``, ``\\u202e``), so it is seen rather than obeyed.

A headline carrying ``\\x1b]8;;...`` (a hidden hyperlink) or ``\\x1b[2J`` (clear screen) must not
reach an operator's terminal raw; a bidi override must not make a line read differently from
what it says. Tab and newline stay: they move the cursor, nothing more.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline (ESC, BEL, CR, BS...), DEL, the C1 controls (0x9b is a
# one-byte CSI to some terminals), and the Unicode format characters that reorder text.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``str(text)`` with every terminal-driving character shown as an escape."""
    return _UNSAFE.sub(_escape, str(text))
