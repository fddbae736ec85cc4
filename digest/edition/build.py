"""One library call for ``digest build``: sources -> Edition -> rendered once -> files."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from digest.config import Config, SourceConfig
from digest.config.lists import variant_config
from digest.edition.collect import edition_id, make_edition
from digest.edition.files import write_edition_files, write_variant_files
from digest.edition.variants import results_per_variant, variant_locales
from digest.errors import NoStoriesError
from digest.models import Edition, Rendered, Variant
from digest.render import Personalizer, greeting, render_edition
from digest.sources import read_sources
from digest.sources.fetch import Fetcher


@dataclass(frozen=True)
class Built:
    edition: Edition  # the list's default locale; ``edition.variants`` the others
    rendered: Rendered
    paths: dict[str, Path]
    variants: tuple[Variant, ...] = ()  # the other locales, each rendered once

    @property
    def warnings(self) -> tuple[str, ...]:
        # A variant's own: its sources' (when it reads others) and its rendering's.
        own = {*self.edition.warnings, *self.rendered.warnings}
        extra = tuple(
            f"[{v.locale}] {w}"
            for v in self.variants
            for w in (*v.edition.warnings, *v.rendered.warnings)
            if w not in own
        )
        return self.edition.warnings + self.rendered.warnings + extra


def default_list(config: Config) -> str:
    return next(iter(config.lists), "digest")


def reference_time(config: Config, now: datetime | None) -> datetime:
    """``--now`` (a naive value is read in the site's zone) or the clock, in the site's zone."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=config.site.tz)
    return now.astimezone(config.site.tz)


def build_edition(
    config: Config,
    *,
    list_name: str,
    now: datetime | None = None,
    sources: Sequence[SourceConfig] | None = None,
    out_dir: Path | None = None,
    fetcher: Fetcher | None = None,
    note: str | None = None,
    locales: Sequence[str] | None = None,
) -> Built:
    """Read the sources, select the stories, render once per variant, and write the edition
    files. ``locales``: the variants to build, the list's default first (default: only it)."""
    started = time.monotonic()
    ref = reference_time(config, now)
    fetcher = fetcher or Fetcher(user_agent=config.user_agent)
    default = variant_config(config, list_name)
    locales = tuple(locales or (default.site.locale,))

    def read(srcs: Sequence[SourceConfig]):
        return read_sources(
            srcs,
            reference_time=ref,
            tz=config.site.tz,
            site_url=config.site.url,
            fetcher=fetcher,
            deadline=config.edition.gather_timeout,
        )

    made: list[Variant] = []
    skipped: list[str] = []
    for locale, vc, results in results_per_variant(config, list_name, locales, sources, read):
        try:
            edition = make_edition(vc, results, list_name=list_name, reference_time=ref, note=note)
        except NoStoriesError as exc:
            if not made:
                raise  # the default variant: no edition at all, as for a one-locale list
            skipped.append(f"no {locale} variant (its readers get the {locales[0]} one): {exc}")
            continue
        rendered = render_edition(
            edition, vc, list_title=vc.list_config(list_name).title, variant=bool(made)
        )
        made.append(Variant(edition, rendered))
    first, others = made[0], tuple(made[1:])
    edition = replace(
        first.edition,
        warnings=first.edition.warnings + tuple(skipped),
        variants=tuple(v.edition for v in others),
        build_seconds=round(time.monotonic() - started, 3),
    )
    paths = {}
    if out_dir:
        html, text = Personalizer(first.rendered).fill(preview_values(config, edition.locale))
        paths = write_edition_files(out_dir, edition, html, text)
        for v in others:
            html, text = Personalizer(v.rendered).fill(preview_values(config, v.locale))
            paths.update(write_variant_files(out_dir, v.locale, html, text))
    return Built(edition=edition, rendered=first.rendered, paths=paths, variants=others)


def preview_values(config: Config, locale: str) -> dict[str, str]:
    """What the edition files show where a subscriber's own values go: no name, and links to
    the public pages rather than anyone's working unsubscribe link."""
    return {
        "greeting": greeting("", locale),
        "unsubscribe_url": f"{config.site.public_url}/unsubscribe",
        "preferences_url": f"{config.site.public_url}/preferences",
    }


def cached_fetcher(config: Config, db) -> Fetcher:
    """A fetcher whose conditional-GET validators and bodies live in the database."""
    from digest.store.feeds import SqlFeedCache

    return Fetcher(user_agent=config.user_agent, cache=SqlFeedCache(db))


def edition_for_send(
    config: Config,
    db,
    *,
    list_name: str,
    now: datetime | None = None,
    sources: Sequence[SourceConfig] | None = None,
    out_dir: Path | None = None,
    fetcher: Fetcher | None = None,
    needs_approval: bool = False,
    store: bool = True,
):
    """The stored edition of this list and day, built and stored first if there is none.

    Returns (stored, built): ``built`` is None when the edition was stored already, which is how
    a second ``digest send`` the same day resumes the first one instead of rebuilding it.
    Without a ``fetcher``, one is made whose conditional-GET cache lives in ``db``.
    ``store=False`` (a dry run) writes nothing to the database: no edition (the real send later
    builds from the sources as they are then), no feed cache; it returns (None, built) when
    there was no stored edition.
    """
    from digest.store.editions import EditionExists, get_edition, save_edition
    from digest.store.lists import reader_locales

    ref = reference_time(config, now)
    stored = get_edition(db, edition_id(list_name, ref))
    if stored is not None:
        return stored, None
    # One variant per locale the list's readers use (the audience as it is now; a reader who
    # joins later in another locale gets the default variant).
    locales = variant_locales(config, list_name, reader_locales(db, list_name))
    build = functools.partial(
        build_edition,
        config,
        list_name=list_name,
        now=ref,
        sources=sources,
        out_dir=out_dir,
        locales=locales,
    )
    if not store:
        return None, build(fetcher=fetcher)
    with contextlib.nullcontext(fetcher) if fetcher else cached_fetcher(config, db) as fetcher:
        built = build(fetcher=fetcher)
    try:
        save_edition(
            db,
            built.edition,
            built.rendered,
            needs_approval=needs_approval,
            variants=built.variants,
        )
    except EditionExists:
        return get_edition(db, built.edition.id), None  # another process won the race: use it
    return get_edition(db, built.edition.id), built
