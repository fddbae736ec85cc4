"""The language of a page: the reader's choice, else the subscriber's, else the browser's, else
the site's.

A choice is ``?lang=fr`` on any page (the header's links carry it on) or the language picked in
a form. The subscriber's is the locale stored with them (``/u/``, ``/p/``) or carried by a
signup's confirmation token. The browser's is ``Accept-Language``. Only languages with a
catalog are ever chosen (digest/i18n.py); a locale such as ``fr_MA`` reads in ``fr``.
"""

from __future__ import annotations

import gettext

from starlette.requests import Request

from digest.i18n import accept_languages, available, display_name, language, translations
from digest.locale import direction

SCOPE_KEY = "digest.lang"  # where the page's language is kept once chosen


def chosen(request: Request) -> str | None:
    """The language of ``?lang=`` when it has a catalog."""
    return language(request.query_params.get("lang", "")[:35])


def page_language(request: Request, preferred: str | None = None) -> str:
    """The language this request's page is written in; ``preferred`` is the subscriber's
    locale (or a form's choice), when the page knows one."""
    lang = (
        chosen(request)
        or language(preferred)
        or _negotiated(request)
        or language(request.app.state.web.config.site.locale)
        or "en"
    )
    request.scope[SCOPE_KEY] = lang
    return lang


def _negotiated(request: Request) -> str | None:
    for tag in accept_languages(request.headers.get("accept-language")):
        found = language(tag)
        if found:
            return found
    return None


def translator(request: Request, preferred: str | None = None) -> gettext.NullTranslations:
    """The catalog of this request's page (the one ``page_language`` chose, once chosen)."""
    lang = request.scope.get(SCOPE_KEY) if preferred is None else None
    return translations(lang or page_language(request, preferred))


def page_context(request: Request, lang: str) -> dict:
    """What base.html needs to write a page in ``lang``: lang/dir, the catalog, the switcher."""
    explicit = chosen(request)
    return {
        "translations": translations(lang),
        "lang": lang.replace("_", "-"),
        "dir": direction(lang),
        # Kept on the header's links so a reader's ?lang= choice follows them.
        "lang_query": f"?lang={explicit}" if explicit else "",
        "switch_languages": [(code, display_name(code)) for code in available() if code != lang],
    }


def languages() -> dict[str, str]:
    """The languages a subscriber may pick, each named in itself: {'fr': 'Français', ...}."""
    return {code: display_name(code) for code in available()}
