"""Turn what the sources said into one Edition: window, dedupe, order, select, title.

Rules (stated here because editors and operators rely on them):

- The window is (reference - window_hours, reference]. A story dated after the reference time is
  not published yet as far as this edition knows (replays with ``--now``), so it is left out.
- A story without a date counts as current: it is what the source shows now.
- Duplicates across sources: the same canonical link (scheme and host lower-cased, fragment,
  tracking parameters and trailing slash removed, query sorted), else the same normalized title
  (case, accents, punctuation and spacing ignored). The first source in configuration order wins,
  except that a featured story always beats a ticker headline for the same article.
- Near duplicates across sources (the same story under two headlines) are merged by
  ``digest.edition.similar`` above ``duplicate_threshold``; each merge is listed in ``merged``.
- Featured stories beyond ``featured_count`` are not lost: they join the ticker.
- Ticker: newest first, undated headlines last, at most ``ticker_max``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.config import Config, SourceConfig
from digest.edition.similar import merge_similar
from digest.errors import NoStoriesError
from digest.headers import SUBJECT_MAX, header_text, one_line
from digest.locale import long_date
from digest.models import Edition, SourceResult, Story
from digest.render.strings import briefs

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|igshid|xtor|at_\w+|ocid|cmpid)$",
    re.IGNORECASE,
)
PREHEADER_MAX = 150


def make_edition(
    config: Config,
    results: Sequence[SourceResult],
    *,
    list_name: str,
    reference_time: datetime,
    note: str | None = None,
) -> Edition:
    """Select the edition's stories from source results. Raises NoStoriesError when empty."""
    tz = config.site.tz
    ref = reference_time.astimezone(tz)
    start = ref - timedelta(hours=config.edition.window_hours)
    warnings = [f"source '{r.name}' failed: {r.error}" for r in results if not r.ok]
    warnings += [f"source '{r.name}': {w}" for r in results for w in r.warnings]

    if results and all(not r.ok for r in results):
        raise NoStoriesError("every source failed, so there is no edition: " + "; ".join(warnings))

    in_window = [s for r in results if r.ok for s in r.stories if _inside(s, start, ref)]
    stories, merges = merge_similar(
        [_localize(s, tz) for s in dedupe(in_window)], config.edition.duplicate_threshold
    )
    if not stories:
        raise NoStoriesError(
            f"no story published between {start:%Y-%m-%d %H:%M} and {ref:%Y-%m-%d %H:%M} "
            f"({config.site.timezone})" + (f"; {'; '.join(warnings)}" if warnings else "")
        )

    featured = _newest_first([s for s in stories if s.role == "featured"])
    keep = max(config.edition.featured_count, 0)
    overflow = [replace(s, role="ticker") for s in featured[keep:]]
    featured = featured[:keep]
    ticker = _newest_first([s for s in stories if s.role == "ticker"] + overflow)
    if len(ticker) > config.edition.ticker_max:
        warnings.append(
            f"{len(ticker) - config.edition.ticker_max} older headlines left out "
            f"(edition.ticker_max = {config.edition.ticker_max})"
        )
        ticker = ticker[: config.edition.ticker_max]

    list_title = config.list_config(list_name).title
    top = (featured or ticker)[0].title
    fields = {
        "site": config.site.name,
        "date": long_date(ref, config.site.locale),
        "top": top,
        "list": list_title,
        "briefs": briefs(config.site.locale, len(ticker)),
    }
    return Edition(
        id=edition_id(list_name, ref),
        list_name=list_name,
        # A 100 kB headline in {top} must not become a 100 kB subject (or crash the insert).
        subject=header_text(config.edition.subject.format(**fields), SUBJECT_MAX),
        preheader=_shorten(
            one_line(config.edition.preheader.format(**fields)).strip(), PREHEADER_MAX
        ),
        locale=config.site.locale,
        timezone=config.site.timezone,
        reference_time=ref,
        window_start=start,
        ticker=tuple(ticker),
        featured=tuple(featured),
        warnings=tuple(warnings),
        sources=tuple(results),
        note=note,
        merged=tuple(m.as_dict() for m in merges),
    )


def edition_id(list_name: str, reference_time: datetime) -> str:
    """One edition per list and local day: what makes a second send of the day a resume."""
    return f"{list_name}-{reference_time:%Y-%m-%d}"


def dedupe(stories: Sequence[Story]) -> list[Story]:
    """Drop repeats by canonical link or normalized title; featured beats ticker."""
    kept: list[Story] = []
    index: dict[str, int] = {}
    for story in stories:
        keys = story_keys(story)
        hit = next((index[k] for k in keys if k in index), None)
        if hit is None:
            for k in keys:
                index[k] = len(kept)
            kept.append(story)
            continue
        current = kept[hit]
        if current.role == "ticker" and story.role == "featured":
            kept[hit] = story
        for k in keys:
            index.setdefault(k, hit)
    return kept


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAMS.match(k)
    )
    path = parts.path.rstrip("/") or "/"
    host = (parts.hostname or "").lower()
    if parts.port and (parts.scheme, parts.port) not in {("http", 80), ("https", 443)}:
        host = f"{host}:{parts.port}"
    scheme = "https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower()
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def normalize_title(title: str) -> str:
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", bare).split())


def sources_for(
    config: Config, overrides: Sequence[SourceConfig] | None
) -> tuple[SourceConfig, ...]:
    """``--source`` on the command line replaces the configured sources."""
    return tuple(overrides) if overrides else config.sources


def story_keys(story: Story) -> list[str]:
    keys = []
    if story.url:
        keys.append("u:" + canonical_url(story.url))
    title = normalize_title(story.title)
    if title:
        keys.append("t:" + title)
    return keys


def _inside(story: Story, start: datetime, ref: datetime) -> bool:
    return story.published_at is None or start < story.published_at <= ref


def _localize(story: Story, tz) -> Story:
    if story.published_at is None:
        return story
    return replace(story, published_at=story.published_at.astimezone(tz))


def _newest_first(stories: list[Story]) -> list[Story]:
    # Undated stories go last: a reader scanning by time cannot place them; sort is stable.
    return sorted(
        stories,
        key=lambda s: s.published_at.timestamp() if s.published_at else float("-inf"),
        reverse=True,
    )


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
