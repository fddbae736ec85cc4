"""The few words an email says on its own, per language, with a fallback to English.

Keys are looked up for the full locale (``fr_MA``), then its language (``fr``), then ``en``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

FALLBACK = "en"

_TABLE: dict[str, dict[str, str]] = {
    "en": {
        "featured": "Top stories",
        "ticker": "In brief",
        "read_more": "Read more",
        "read_online": "View online",
        "today": "Today",
        "yesterday": "Yesterday",
        "earlier": "Earlier",
        "undated": "Undated",
        "briefs_one": "+ 1 brief",
        "briefs_many": "+ {n} briefs",
        "greeting": "Hello,",
        "greeting_named": "Hello {name},",
        "note": "From the editors",
        "unsubscribe": "Unsubscribe",
        "preferences": "Manage preferences",
        "why": "You are receiving this email because you subscribed to “{list}”.",
        "visit_site": "Visit {site}",
        "sep": ":",
    },
    "fr": {
        "featured": "À la une",
        "ticker": "En bref",
        "read_more": "Lire la suite",
        "read_online": "Voir en ligne",
        "today": "Aujourd'hui",
        "yesterday": "Hier",
        "earlier": "Plus tôt",
        "undated": "Sans heure",
        "briefs_one": "+ 1 brève",
        "briefs_many": "+ {n} brèves",
        "greeting": "Bonjour,",
        "greeting_named": "Bonjour {name},",
        "note": "Le mot de la rédaction",
        "unsubscribe": "Se désabonner",
        "preferences": "Gérer mes préférences",
        "why": "Vous recevez cette lettre car vous êtes inscrit à « {list} ».",
        "visit_site": "Visiter {site}",
        "sep": " :",
    },
    "ar": {
        "featured": "أبرز الأخبار",
        "ticker": "باختصار",
        "read_more": "اقرأ المزيد",
        "read_online": "عرض على الموقع",
        "today": "اليوم",
        "yesterday": "أمس",
        "earlier": "قبل ذلك",
        "undated": "بدون توقيت",
        "briefs_one": "+ خبر موجز واحد",
        "briefs_many": "+ {n} أخبار موجزة",
        "greeting": "مرحبًا،",
        "greeting_named": "مرحبًا {name}،",
        "note": "كلمة التحرير",
        "unsubscribe": "إلغاء الاشتراك",
        "preferences": "إدارة التفضيلات",
        "why": "تصلك هذه الرسالة لأنك مشترك في «{list}».",
        "visit_site": "زيارة {site}",
        "sep": ":",
    },
}

KEYS = frozenset(_TABLE[FALLBACK])
LANGUAGES = frozenset(_TABLE)  # the locales with strings of their own
_NAME_MAX = 80


def _candidates(locale: str) -> list[str]:
    norm = (locale or "").replace("-", "_")
    lang = norm.split("_", 1)[0].lower()
    return [norm, lang, FALLBACK]


def strings(locale: str) -> Mapping[str, str]:
    """Every UI string for ``locale``; a key missing in that language comes from English."""
    merged = dict(_TABLE[FALLBACK])
    for candidate in reversed(_candidates(locale)[:-1]):
        merged.update(_TABLE.get(candidate, {}))
    return MappingProxyType(merged)


def text(locale: str, key: str, **values: str) -> str:
    """One UI string, with ``{name}``-style values filled in."""
    for candidate in _candidates(locale):
        table = _TABLE.get(candidate)
        if table and key in table:
            return table[key].format(**values) if values else table[key]
    raise KeyError(f"no UI string {key!r}")


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
    return text(locale, "briefs_one") if count == 1 else text(locale, "briefs_many", n=str(count))


def greeting(name: str | None, locale: str) -> str:
    """'Bonjour Amina,' or, without a usable name, 'Bonjour,'. Raw text: escape it where needed."""
    cleaned = clean_name(name)
    if not cleaned:
        return text(locale, "greeting")
    return text(locale, "greeting_named", name=cleaned)
