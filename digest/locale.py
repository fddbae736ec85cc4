"""Locale facts an edition needs: text direction and dates spelled in the reader's language."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_time


@lru_cache(maxsize=64)
def _parse(locale: str) -> Locale:
    return Locale.parse(locale)


def direction(locale: str) -> str:
    """'rtl' for right-to-left scripts (Arabic, Hebrew, Persian, Urdu...), else 'ltr'."""
    return "rtl" if _parse(locale).text_direction == "rtl" else "ltr"


def long_date(moment: datetime, locale: str) -> str:
    """'mardi 1 juillet 2025' in fr, 'Tuesday, July 1, 2025' in en."""
    return format_date(moment, format="full", locale=_parse(locale))


def short_time(moment: datetime, locale: str) -> str:
    """'07:34' in fr; locale-aware digits and separators elsewhere."""
    return format_time(moment, format="short", locale=_parse(locale))
