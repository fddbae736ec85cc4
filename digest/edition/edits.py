"""Editors' changes to a draft: pin, drop, reorder stories, a note, a subject override.

Edits are data (stored with the edition), applied to the edition as the sources built it, so
they can be changed or undone in any order: dropping a story and then un-dropping it brings it
back, because ``apply`` always starts from the untouched stories.

    edits = {"pinned": [key], "dropped": [key], "order": {"ticker": [key...],
             "featured": [key...]}, "note": "...", "subject": "..."}

A story's key is its URL, or its title when it has none (ticker lines of a text dump).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from digest.headers import SUBJECT_MAX, header_text
from digest.models import Edition, Story

SECTIONS = ("ticker", "featured")
NOTE_MAX = 2000


def story_key(story: Story) -> str:
    return story.url or story.title


def clean(edits: dict | None) -> dict:
    """The edits in their canonical form, with anything unknown or oversized dropped."""
    edits = edits or {}
    out: dict = {}
    for name in ("pinned", "dropped"):
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


def apply(edition: Edition, edits: dict | None) -> Edition:
    """The edition with ``edits`` applied. ``edition`` must be the sources' version."""
    edits = clean(edits)
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
