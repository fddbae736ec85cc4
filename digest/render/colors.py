"""A theme colour made readable on a dark background (for the prefers-color-scheme block)."""

from __future__ import annotations

import re

_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def lighten(color: str, amount: float = 0.45, fallback: str = "#f0a0a8") -> str:
    """``color`` mixed with white by ``amount`` (0..1); ``fallback`` for a non-hex colour."""
    match = _HEX.match(color.strip())
    if not match:
        return fallback
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    rgb = [int(digits[i : i + 2], 16) for i in (0, 2, 4)]
    mixed = [round(c + (255 - c) * amount) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)
