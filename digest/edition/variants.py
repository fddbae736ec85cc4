"""One edition per list and day, in one variant per locale its readers use.

Which locales a list offers: its ``locales`` if set, else its default locale and every language
digest has strings for (plus any locale its subjects or variant sources name). Which variants an
edition has: the default locale, and the offered locale each active reader's locale matches
(``digest.locale.match_locale``: exact, then language, then the default). Each variant is built
from its own sources where the list gives some for that locale, else from the same stories as
the default one (read once), and rendered once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from digest.config import Config, SourceConfig
from digest.config.lists import variant_config
from digest.edition.collect import sources_for
from digest.locale import match_locale
from digest.models import SourceResult
from digest.render.strings import LANGUAGES


def offered_locales(config: Config, list_name: str) -> tuple[str, ...]:
    """The locales the list can send in, its default first."""
    lc = config.list_config(list_name)
    default = lc.locale or config.site.locale
    if lc.locales is not None:
        return lc.locales
    named = set(LANGUAGES) | set(lc.locale_sources) | set(config.edition.subjects)
    named |= {k for k in (*lc.subjects, *lc.preheaders, *config.edition.preheaders) if k}
    return (default, *sorted(named - {default}))


def variant_locales(
    config: Config, list_name: str, reader_locales: Iterable[str | None]
) -> tuple[str, ...]:
    """The default locale, then each other offered locale some reader's locale matches."""
    offered = offered_locales(config, list_name)
    default = offered[0]
    chosen = {match_locale(loc, offered, default) for loc in reader_locales if loc}
    return (default, *sorted(chosen - {default}))


ReadSources = Callable[[Sequence[SourceConfig]], list[SourceResult]]


def results_per_variant(
    config: Config,
    list_name: str,
    locales: Sequence[str],
    overrides: Sequence[SourceConfig] | None,
    read: ReadSources,
) -> list[tuple[str, Config, list[SourceResult]]]:
    """(locale, its Config, what its sources said) per variant; sources shared by several
    variants are read once (``--source`` replaces every variant's sources)."""
    seen: dict[tuple[tuple[str, str], ...], list[SourceResult]] = {}
    out = []
    for locale in locales:
        vc = variant_config(config, list_name, locale)
        sources = sources_for(vc, overrides)
        key = tuple((s.name, s.location) for s in sources)
        if key not in seen:
            seen[key] = list(read(sources))
        out.append((locale, vc, seen[key]))
    return out
