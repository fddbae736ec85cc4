"""Read a homepage text dump (see samples/homepage-fr.txt) into ticker and featured stories.

The format, as copied from the site's homepage:

    - 07:34L'économie marocaine maintient son élan ...     <- ticker, newest first
    - 06:55E-visa marocain : ...
    - 19:00Audit public : ...                              <- previous day (19:00 > 06:55)
    Suivez-nous sur Facebook                               <- boilerplate, dropped anywhere
    Le Maroc et la France renforcent ...                   <- featured title
    Un nouveau jalon vient d'être posé ...                 <- its paragraphs, one per line

Rules (each one stated because the page itself says nothing about them):

- Text is plain text, never markup: a literal ``<b>`` stays the three characters ``<b>``.
  Escaping is the renderer's job.
- Decoding: a BOM wins, then UTF-8, then the charset the server declared; undecodable bytes
  are replaced and reported as a warning. Lines may end in LF, CRLF or CR. Every kind of
  space (NBSP included) counts as a space; runs collapse to one; lines are trimmed.
- Ticker lines look like ``- HH:MMTitle``: a dash (or -, –, —, •, *, ·), the time (``:`` or
  ``h`` between hours and minutes; any Unicode digits, so Arabic-Indic digits work), then
  the title with or without a space. The ticker runs from the top of the file to the last
  such line. Any other line inside it is dropped with a warning: a title never sits between
  headlines, so it is boilerplate that the configured prefixes missed.
- Ticker times are dated by ``dating.BackwardsDater``: backwards from the edition's reference
  time in the site's time zone, one day back each time a time is later than the one above.
- A ticker line repeated exactly (same time, same title) is kept once, with a warning.
  A line with an impossible time (25:00) or no title is skipped, with a warning.
- Boilerplate: a line that starts with one of the configured prefixes (case-insensitive,
  after space normalization) is dropped wherever it appears.
- Featured stories: everything after the ticker. Blank lines split it into blocks. The
  first line of the first block is the title, every other line a paragraph. A later block
  starts a *new* featured story when it has at least two lines and its first line is
  title-like (at most 200 characters, not ending like a sentence: ``.`` ``…`` ``:`` ``;``
  ``,``); otherwise its lines are more paragraphs of the current story.
- The page carries no date: featured stories get ``published_at`` = the reference time
  (in the site's zone) and ``url`` = None.
- A dump that yields no story at all is an error (the result says whether it held only
  boilerplate), because the dump format always has a ticker or a featured story.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

from digest.models import SourceResult, Story
from digest.sources.dating import BackwardsDater, make_clock
from digest.sources.plain import charset_of, clean_line, decode_bytes, normalize

TICKER_LINE = re.compile(r"^[-–—•*·]\s*(\d{1,2})\s*[:hH]\s*(\d{2})\s*(.*)$")
TITLE_MAX = 200
SENTENCE_END = (".", "…", ":", ";", ",", "。", "۔", "،")
CLOSERS = "»\"”’')]›"


def parse_text(
    body: bytes,
    *,
    name: str,
    reference_time: datetime,
    tz: ZoneInfo,
    boilerplate: Sequence[str] = (),
    content_type: str | None = None,
) -> SourceResult:
    text, warning = decode_bytes(body, charset_of(content_type))
    warnings: list[str] = [warning] if warning else []
    prefixes = tuple(p.casefold() for p in (clean_line(b) for b in boilerplate) if p)

    lines = [clean_line(normalize(line)) for line in text.splitlines()]
    boiler_seen = 0
    kept: list[str | None] = []  # None marks a blank line (a block separator)
    for line in lines:
        if line and prefixes and line.casefold().startswith(prefixes):
            boiler_seen += 1
            continue
        kept.append(line or None)

    ticker_rows, rest, skipped, stray = _split_ticker(kept)
    if skipped:
        warnings.append(f"skipped {skipped} ticker line(s) with an impossible time or no title")
    if stray:
        warnings.append(
            f"dropped {len(stray)} line(s) between headlines, such as {stray[0]!r}; "
            "add them to the source's boilerplate prefixes"
        )

    stories: list[Story] = []
    dater = BackwardsDater(reference_time, tz)
    seen: set[tuple[time, str]] = set()
    duplicates = 0
    for clock, title in ticker_rows:
        published = dater.date(clock)  # dated even when dropped, so the day chain holds
        if (clock, title) in seen:
            duplicates += 1
            continue
        seen.add((clock, title))
        stories.append(Story(title=title, role="ticker", source=name, published_at=published))
    if duplicates:
        warnings.append(f"dropped {duplicates} repeated ticker line(s)")

    featured_at = _aware(reference_time, tz).astimezone(tz)
    for title, paragraphs in _featured_blocks(rest):
        stories.append(
            Story(
                title=title,
                role="featured",
                source=name,
                url=None,
                published_at=featured_at,
                paragraphs=tuple(paragraphs),
            )
        )

    if not stories:
        why = (
            "it holds only boilerplate lines"
            if boiler_seen
            else "it holds no ticker line and no featured story"
        )
        return SourceResult(
            name=name, error=f"Source '{name}' gave no stories: {why}.", warnings=tuple(warnings)
        )
    return SourceResult(name=name, stories=tuple(stories), warnings=tuple(warnings))


def _split_ticker(lines: list[str | None]):
    """The ticker rows, the lines after the last one, how many ticker lines were bad, and the
    other lines found between headlines (dropped: a title never sits inside the ticker, so they
    are boilerplate the configured prefixes missed)."""
    last = max((i for i, line in enumerate(lines) if line and TICKER_LINE.match(line)), default=-1)
    rows: list[tuple[time, str]] = []
    skipped = 0
    stray: list[str] = []
    for line in lines[: last + 1]:
        if line is None:
            continue
        match = TICKER_LINE.match(line)
        if not match:
            stray.append(line)
            continue
        clock = make_clock(match.group(1), match.group(2))
        title = match.group(3).strip()
        if clock is None or not title:
            skipped += 1
            continue
        rows.append((clock, title))
    return rows, lines[last + 1 :], skipped, stray


def _featured_blocks(lines: list[str | None]) -> list[tuple[str, list[str]]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line is None:
            if blocks[-1]:
                blocks.append([])
        else:
            blocks[-1].append(line)
    blocks = [b for b in blocks if b]

    stories: list[tuple[str, list[str]]] = []
    for block in blocks:
        if not stories or (len(block) >= 2 and _title_like(block[0])):
            stories.append((block[0], list(block[1:])))
        else:
            stories[-1][1].extend(block)
    return stories


def _title_like(line: str) -> bool:
    if len(line) > TITLE_MAX:
        return False
    return not line.rstrip(CLOSERS + " ").endswith(SENTENCE_END)


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
