"""One library call for ``digest build``: sources -> Edition -> rendered once -> files."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from digest.config import Config, SourceConfig
from digest.edition.collect import edition_id, make_edition, sources_for
from digest.edition.files import write_edition_files
from digest.models import Edition, Rendered
from digest.render import Personalizer, greeting, render_edition
from digest.sources import read_sources
from digest.sources.fetch import Fetcher


@dataclass(frozen=True)
class Built:
    edition: Edition
    rendered: Rendered
    paths: dict[str, Path]

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.edition.warnings + self.rendered.warnings


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
) -> Built:
    """Read the sources, select the stories, render once, and write the edition files."""
    started = time.monotonic()
    ref = reference_time(config, now)
    fetcher = fetcher or Fetcher(user_agent=config.user_agent)
    results = read_sources(
        sources_for(config, sources),
        reference_time=ref,
        tz=config.site.tz,
        site_url=config.site.url,
        fetcher=fetcher,
        deadline=config.edition.gather_timeout,
    )
    edition = make_edition(config, results, list_name=list_name, reference_time=ref, note=note)
    rendered = render_edition(edition, config, list_title=config.list_config(list_name).title)
    edition = replace(edition, build_seconds=round(time.monotonic() - started, 3))
    paths = {}
    if out_dir:
        html, text = Personalizer(rendered).fill(preview_values(config, edition.locale))
        paths = write_edition_files(out_dir, edition, html, text)
    return Built(edition=edition, rendered=rendered, paths=paths)


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

    ref = reference_time(config, now)
    stored = get_edition(db, edition_id(list_name, ref))
    if stored is not None:
        return stored, None
    if not store:
        built = build_edition(
            config, list_name=list_name, now=ref, sources=sources, out_dir=out_dir, fetcher=fetcher
        )
        return None, built
    with contextlib.nullcontext(fetcher) if fetcher else cached_fetcher(config, db) as fetcher:
        built = build_edition(
            config, list_name=list_name, now=ref, sources=sources, out_dir=out_dir, fetcher=fetcher
        )
    try:
        save_edition(db, built.edition, built.rendered, needs_approval=needs_approval)
    except EditionExists:
        return get_edition(db, built.edition.id), None  # another process won the race: use it
    return get_edition(db, built.edition.id), built
