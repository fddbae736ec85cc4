"""The few words an email says on its own, per language, from the gettext catalogs.

The words are English msgids (digest/locales holds their translations): a locale is looked up
in its own catalog (``fr_MA``), then its language's (``fr``), then English.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

from digest.i18n import N_, available, translations

FALLBACK = "en"

# The templates' names for the words (``{{ s.read_more }}``), each an English msgid.
_MSGIDS: dict[str, str] = {
    "featured": N_("Top stories"),
    "ticker": N_("In brief"),
    "read_more": N_("Read more"),
    "read_online": N_("View online"),
    "today": N_("Today"),
    "yesterday": N_("Yesterday"),
    "earlier": N_("Earlier"),
    "undated": N_("Undated"),
    "greeting": N_("Hello,"),
    "greeting_named": N_("Hello {name},"),
    "note": N_("From the editors"),
    "unsubscribe": N_("Unsubscribe"),
    "preferences": N_("Manage preferences"),
    "why": N_("You are receiving this email because you subscribed to “{list}”."),
    "visit_site": N_("Visit {site}"),
}

KEYS = frozenset(_MSGIDS) | {"sep", "briefs_one", "briefs_many"}
LANGUAGES = frozenset(available())  # the locales with strings of their own
_NAME_MAX = 80


def _briefs(locale: str, n: int) -> str:
    # One plural message, so each language has its forms (Arabic has six).
    return translations(locale).ngettext("+ {n} brief", "+ {n} briefs", n)


@functools.lru_cache(maxsize=64)
def strings(locale: str) -> Mapping[str, str]:
    """Every UI string for ``locale``; a word missing in that language is English."""
    t = translations(locale)
    words = {key: t.gettext(msgid) for key, msgid in _MSGIDS.items()}
    # Between a label and its value ("Read more: https://..."); French puts a space before it.
    words["sep"] = t.pgettext("label-value separator", ":")
    words["briefs_one"] = _briefs(locale, 1).format(n=1)
    words["briefs_many"] = _briefs(locale, 5)
    return MappingProxyType(words)


def text(locale: str, key: str, **values: str) -> str:
    """One UI string, with ``{name}``-style values filled in."""
    table = strings(locale)
    if key not in table:
        raise KeyError(f"no UI string {key!r}")
    return table[key].format(**values) if values else table[key]


class Greeter:
    """``greeting`` for one locale, its strings looked up once: it runs once per subscriber."""

    def __init__(self, locale: str):
        self._plain = text(locale, "greeting")
        self._before, _, self._after = text(locale, "greeting_named", name="\0").partition("\0")

    def __call__(self, name: str | None) -> str:
        if not name:
            return self._plain
        # Fast path for the common, already clean name; anything else is cleaned.
        if not (
            name.isprintable()
            and len(name) <= _NAME_MAX
            and name == name.strip()
            and "  " not in name
        ):
            name = clean_name(name)
            if not name:
                return self._plain
        return self._before + name + self._after


def clean_name(name: str | None) -> str:
    """A subscriber's name made safe for one line: no CR/LF or control characters, trimmed."""
    if not name:
        return ""
    flat = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", name)
    return " ".join(flat.split())[:_NAME_MAX].strip()


def briefs(locale: str, count: int) -> str:
    """'+ 9 brèves' for the preheader; nothing when there are none."""
    if count <= 0:
        return ""
    return _briefs(locale, count).format(n=count)


def greeting(name: str | None, locale: str) -> str:
    """'Bonjour Amina,' or, without a usable name, 'Bonjour,'. Raw text: escape it where needed."""
    cleaned = clean_name(name)
    if not cleaned:
        return text(locale, "greeting")
    return text(locale, "greeting_named", name=cleaned)
