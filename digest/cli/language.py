"""The language the command line speaks: the operator's, read from the environment once.

``DIGEST_LANG`` wins when it names a language with a catalog; else the locale is read the
way GNU gettext reads it: ``LC_ALL``, then ``LC_MESSAGES``, then ``LANG`` (the first one set),
and, unless that locale is ``C``/``POSIX``, the ``LANGUAGE`` list before it. ``fr_FR.UTF-8``
reads in French; ``C``, nothing set or a language without a catalog reads in English (the
msgids), so scripts that parse the output keep a stable wording with ``LANG=C``.

The commands print through ``gettext``/``ngettext`` here (imported as ``_``/``ngettext``, the
names the extractor looks for). The language is looked up at each call, not at import, so a
test (click's CliRunner ``env=``) can switch it; within one run the environment is fixed.
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Mapping

from digest.i18n import SOURCE, language, translations

OVERRIDE = "DIGEST_LANG"
PLAIN = ("C", "POSIX")  # the locales that mean "no translation"
_ENGLISH = _gettext.NullTranslations()


def _bare(locale: str) -> str:
    """``fr_FR.UTF-8@euro`` -> ``fr_FR``."""
    return locale.split(".", 1)[0].split("@", 1)[0].strip()


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    """The available language of this environment: ``'fr'``, ``'ar'`` or ``'en'``."""
    env = os.environ if environ is None else environ
    chosen = language(_bare(env.get(OVERRIDE, "")))
    if chosen:
        return chosen
    locale = next((env[v] for v in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(v)), "")
    if not locale or _bare(locale) in PLAIN:
        return SOURCE  # GNU gettext ignores LANGUAGE under the C locale too
    for wanted in (*env.get("LANGUAGE", "").split(":"), locale):
        found = language(_bare(wanted)) if _bare(wanted) not in PLAIN else SOURCE
        if found:
            return found
    return SOURCE


def translator() -> _gettext.NullTranslations:
    """English is the msgids as they are: no catalog is read, so nothing can change them."""
    lang = cli_language()
    return _ENGLISH if lang == SOURCE else translations(lang)


def gettext(message: str) -> str:
    return translator().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translator().ngettext(singular, plural, n)
