"""The gettext catalogs every word a person reads goes through (digest/locales/*/LC_MESSAGES).

English is the source language: the msgids are English, so a locale without a catalog reads
them as they are. A wheel carries compiled ``.mo`` files (setup.py's build step); a checkout
has only the ``.po`` files, compiled in memory at first use, so an editable install needs no
step of its own and a ``.po`` edit shows on the next start.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
import re
from collections.abc import Iterable
from pathlib import Path

import jinja2
from babel import Locale, negotiate_locale
from babel.core import UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "digest"
SOURCE = "en"  # the msgids' language: needs no catalog
ACCEPT_LANGUAGE_MAX = 500  # characters of the header read: more is not a browser's
_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


@functools.cache
def available() -> tuple[str, ...]:
    """The languages with a catalog, and English: ``('ar', 'en', 'fr')``."""
    found = {p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    found |= {p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return tuple(sorted(found | {SOURCE}))


def _load(name: str) -> Translations | None:
    if name not in available():  # never a path made from a request's text
        return None
    folder = LOCALES_DIR / name / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.is_file():
        with mo.open("rb") as fh:
            return Translations(fh, domain=DOMAIN)
    if po.is_file():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=name, domain=DOMAIN)
        buf = io.BytesIO()
        write_mo(buf, catalog)  # fuzzy entries are left out, as pybabel compile does
        buf.seek(0)
        return Translations(buf, domain=DOMAIN)
    return None


def _candidates(locale: str | None) -> list[str]:
    norm = (locale or "").replace("-", "_")
    lang = norm.split("_", 1)[0].lower()
    return [c for c in dict.fromkeys((norm, lang)) if c]


@functools.lru_cache(maxsize=64)
def translations(locale: str | None) -> _gettext.NullTranslations:
    """The catalog for ``fr_MA``: its own if there is one, then ``fr``'s, then the msgids.
    Each call's chain is loaded afresh (add_fallback changes the catalog it is called on);
    the cache keeps one chain per locale."""
    chain = [c for c in map(_load, _candidates(locale)) if c is not None]
    if not chain:
        return _gettext.NullTranslations()
    for first, then in zip(chain, chain[1:], strict=False):
        first.add_fallback(then)
    return chain[0]


def language(locale: str | None) -> str | None:
    """The available language that ``locale`` reads in (``fr_MA`` -> ``fr``), or None."""
    for candidate in _candidates(locale):
        if candidate in available():
            return candidate
    return None


def accept_languages(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, best first (``q`` order, then header order)."""
    ranked = []
    for position, item in enumerate((header or "")[:ACCEPT_LANGUAGE_MAX].split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not _TAG.fullmatch(tag):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, position, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(preferred: Iterable[str]) -> str | None:
    """The first available language among ``preferred`` (``fr_FR`` matches ``fr``), or None."""
    return negotiate_locale(list(preferred), list(available()), sep="_")


def display_name(locale: str) -> str:
    """A locale's name in its own language: 'Français', 'العربية', 'Français (Maroc)'."""
    try:
        name = Locale.parse(locale).get_display_name(locale) or locale
    except (ValueError, UnknownLocaleError):
        return locale
    return name[:1].upper() + name[1:]


def install_jinja(env: jinja2.Environment) -> None:
    """``{% trans %}``, ``_()``, ``ngettext()`` and ``pgettext()`` in ``env``'s templates, in the
    language of the ``translations`` each render is given: one environment serves every
    language at once, with no state shared between requests."""
    env.add_extension("jinja2.ext.i18n")
    # Whitespace inside {% trans %} blocks is collapsed, as babel.cfg tells the extractor.
    env.policies["ext.i18n.trimmed"] = True

    def current(context) -> _gettext.NullTranslations:
        found = context.get("translations")
        return found if found is not None else translations(SOURCE)

    @jinja2.pass_context
    def gettext(context, message: str) -> str:
        return current(context).gettext(message)

    @jinja2.pass_context
    def ngettext(context, singular: str, plural: str, n: int) -> str:
        return current(context).ngettext(singular, plural, n)

    @jinja2.pass_context
    def pgettext(context, ctx: str, message: str) -> str:
        return current(context).pgettext(ctx, message)

    @jinja2.pass_context
    def npgettext(context, ctx: str, singular: str, plural: str, n: int) -> str:
        return current(context).npgettext(ctx, singular, plural, n)

    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
