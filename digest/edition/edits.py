"""Editors' changes to a draft: pin, drop, reorder stories, undo a merge, a note, a subject.

Edits are data (stored with the edition), applied to the edition as the sources built it, so
they can be changed or undone in any order: dropping a story and then un-dropping it brings it
back, because ``apply`` always starts from the untouched stories.

    edits = {"pinned": [key], "dropped": [key], "order": {"ticker": [key...],
             "featured": [key...]}, "unmerged": [dropped title], "note": "...", "subject": "..."}

A story's key is its URL, or its title when it has none (ticker lines of a text dump).
``unmerged`` names near-duplicate merges (edition.json ``merged``, by their ``dropped`` title)
to undo: both stories are kept, the dropped one back in the ticker at its time, and the kept one
gets back its own link and time if it had taken the other's. Merges recorded before the dropped
story was kept with them (no ``story``) cannot be undone and are left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime

from digest.headers import SUBJECT_MAX, header_text
from digest.models import Edition, Story, story_from_dict

SECTIONS = ("ticker", "featured")
NOTE_MAX = 2000


def story_key(story: Story) -> str:
    return story.url or story.title


def clean(edits: dict | None) -> dict:
    """The edits in their canonical form, with anything unknown or oversized dropped."""
    edits = edits or {}
    out: dict = {}
    for name in ("pinned", "dropped", "unmerged"):
        keys = [str(k) for k in edits.get(name) or () if k]
        if keys:
            out[name] = list(dict.fromkeys(keys))
    order = {s: [str(k) for k in (edits.get("order") or {}).get(s) or ()] for s in SECTIONS}
    order = {s: keys for s, keys in order.items() if keys}
    if order:
        out["order"] = order
    note = (edits.get("note") or "").strip()[:NOTE_MAX]
    if note:
        out["note"] = note
    # One line: the subject becomes a header, and no CR/LF from data may reach a header.
    subject = header_text(edits.get("subject") or "", SUBJECT_MAX)
    if subject:
        out["subject"] = subject
    return out


def _arrange(
    stories: Iterable[Story], order: list[str], pinned: list[str], dropped: set[str]
) -> tuple[Story, ...]:
    kept = [s for s in stories if story_key(s) not in dropped]
    position = {key: i for i, key in enumerate(order)}
    pin_rank = {key: i for i, key in enumerate(pinned)}
    # Stable sort: pinned first (in pin order), then the editor's order, then the sources'.
    indexed = list(enumerate(kept))
    indexed.sort(
        key=lambda item: (
            pin_rank.get(story_key(item[1]), len(pin_rank)),
            position.get(story_key(item[1]), len(position)),
            item[0],
        )
    )
    return tuple(s for _, s in indexed)


def undoable(merge: Mapping[str, object]) -> bool:
    """Whether a merge carries what undoing it needs (editions built before it did not)."""
    return isinstance(merge.get("story"), dict)


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _place(ticker: list[Story], story: Story) -> None:
    """Insert ``story`` where the ticker's order (newest first, undated last) puts it."""
    when = story.published_at
    at = next(
        (
            i
            for i, s in enumerate(ticker)
            if when is not None and (s.published_at is None or s.published_at < when)
        ),
        len(ticker),
    )
    ticker.insert(at, story)


def _unmerge(edition: Edition, undone: set[str]) -> Edition:
    ticker, featured = list(edition.ticker), list(edition.featured)
    remaining = []
    for merge in edition.merged:
        data = merge.get("story")
        if merge.get("dropped") not in undone or not isinstance(data, dict):
            remaining.append(merge)
            continue
        dropped = dataclasses.replace(story_from_dict(data), role="ticker")
        for section in (featured, ticker):
            i = next((i for i, s in enumerate(section) if s.title == merge.get("kept")), None)
            if i is None:
                continue
            kept, own_url, own_time = (
                section[i],
                merge.get("kept_url"),
                merge.get("kept_published_at"),
            )
            changes: dict = {}
            if kept.url and kept.url == dropped.url and kept.url != own_url:
                changes["url"] = own_url if isinstance(own_url, str) else None
            if kept.published_at is not None and kept.published_at == dropped.published_at:
                changes["published_at"] = _time(own_time)
            if changes:
                section[i] = dataclasses.replace(kept, **changes)
                if section is ticker and "published_at" in changes:
                    _place(ticker, ticker.pop(i))
            break
        _place(ticker, dropped)
    return dataclasses.replace(
        edition, ticker=tuple(ticker), featured=tuple(featured), merged=tuple(remaining)
    )


def apply(edition: Edition, edits: dict | None) -> Edition:
    """The edition with ``edits`` applied. ``edition`` must be the sources' version."""
    edits = clean(edits)
    if edits.get("unmerged"):
        edition = _unmerge(edition, set(edits["unmerged"]))
    dropped = set(edits.get("dropped", ()))
    pinned = edits.get("pinned", [])
    order = edits.get("order", {})
    changes: dict = {
        section: _arrange(getattr(edition, section), order.get(section, []), pinned, dropped)
        for section in SECTIONS
    }
    if "note" in edits:
        changes["note"] = edits["note"]
    if "subject" in edits:
        changes["subject"] = edits["subject"]
    return dataclasses.replace(edition, **changes)


def move(keys: list[str], key: str, delta: int) -> list[str]:
    """``keys`` with ``key`` moved ``delta`` places (clamped); for the up/down buttons."""
    keys = list(keys)
    if key not in keys:
        return keys
    i = keys.index(key)
    j = max(0, min(len(keys) - 1, i + delta))
    keys.insert(j, keys.pop(i))
    return keys
