"""Locale facts an edition needs: text direction and dates spelled in the reader's language."""

from __future__ import annotations

from collections.abc import Sequence
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


def language(locale: str) -> str:
    """``fr_MA`` -> ``fr``."""
    return locale.replace("-", "_").split("_", 1)[0].lower()


def match_locale(wanted: str | None, offered: Sequence[str], default: str) -> str:
    """The offered locale a reader of ``wanted`` gets: exact (fr_MA), else the same language
    (fr, or the default when it speaks it), else ``default``."""
    if not wanted:
        return default
    wanted = wanted.replace("-", "_")
    if wanted in offered:
        return wanted
    lang = language(wanted)
    if lang in offered:
        return lang
    same = [o for o in offered if language(o) == lang]
    if not same or default in same:
        return default
    return same[0]
