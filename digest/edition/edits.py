"""Editors' changes to a draft: pin, drop, reorder stories, undo a merge, a note, a subject;
rewrite a headline or a lede, add a story by hand, promote a ticker item or demote a featured one.

Edits are data (stored with the edition), applied to the edition as the sources built it, so
they can be changed or undone in any order: dropping a story and then un-dropping it brings it
back, because ``apply`` always starts from the untouched stories.

    edits = {"pinned": [key], "dropped": [key], "order": {"ticker": [key...],
             "featured": [key...]}, "unmerged": [dropped title], "note": "...", "subject": "...",
             "rewritten": {key: {"title": "...", "lede": "..."}},
             "added": [{"title", "url", "text", "role", "added_at"}],
             "roles": {key: "featured" | "ticker"}}

Every key is optional: edits stored before rewrites, added stories and roles existed load as
they are. Pins, drops, order, roles and rewrites name a story by the key it has before any
rewrite (``original_key``), so renaming a story without a link keeps its other edits.
Rewrites and added stories are typed in the default language: they apply to the default
variant only (``DEFAULT_ONLY``), like the subject.

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

from digest.headers import SUBJECT_MAX, header_text, one_line
from digest.i18n import N_
from digest.models import Edition, Story, story_from_dict

SECTIONS = ("ticker", "featured")
NOTE_MAX = 2000
TITLE_MAX, TEXT_MAX, URL_MAX, ADDED_MAX = 300, 5000, 2000, 50
# What only the default variant gets (typed in its language); the rest applies to every one.
DEFAULT_ONLY = ("subject", "rewritten", "added")


class EditError(ValueError):
    """An edit that cannot be made; its message is a msgid (digest.i18n.N_)."""


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
    rewritten = {}
    for key, change in (edits.get("rewritten") or {}).items():
        if not key or not isinstance(change, Mapping):
            continue
        kept = {"title": one_line(str(change.get("title") or ""))[:TITLE_MAX]}
        kept["lede"] = str(change.get("lede") or "").strip()[:TEXT_MAX]
        kept = {k: v for k, v in kept.items() if v}
        if kept:
            rewritten[str(key)] = kept
    if rewritten:
        out["rewritten"] = rewritten
    added = [a for a in map(_added, edits.get("added") or ()) if a is not None][:ADDED_MAX]
    if added:
        out["added"] = added
    roles = {str(k): v for k, v in (edits.get("roles") or {}).items() if k and v in SECTIONS}
    if roles:
        out["roles"] = roles
    return out


def link(value: str) -> str | None:
    """``value`` if it is an absolute http(s) link with a host and nothing odd in it; else None
    (a ``javascript:`` or ``data:`` link never reaches an email)."""
    from urllib.parse import urlsplit

    value = (value or "").strip()
    if not value or len(value) > URL_MAX or not value.isprintable() or " " in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def new_story(title: str, url: str, text: str, role: str, added_at: datetime) -> dict:
    """A story added by hand, in the stored form; EditError if it cannot be one."""
    title = one_line(title or "")[:TITLE_MAX]
    if not title:
        raise EditError(N_("A story needs a title."))
    checked = link(url) if (url or "").strip() else ""
    if checked is None:
        raise EditError(N_("The link must be an http:// or https:// address."))
    if role not in SECTIONS:
        raise EditError(N_("A story is featured or in brief."))
    data = {"title": title, "url": checked, "text": (text or "").strip()[:TEXT_MAX]}
    return {**data, "role": role, "added_at": added_at.isoformat()}


def _added(data: object) -> dict | None:
    if not isinstance(data, Mapping):
        return None
    try:
        when = datetime.fromisoformat(str(data.get("added_at") or ""))
        return new_story(
            str(data.get("title") or ""),
            str(data.get("url") or ""),
            str(data.get("text") or ""),
            str(data.get("role") or ""),
            when,
        )
    except ValueError:  # EditError or a bad time: a broken entry is left out, not fatal
        return None


def _paragraphs(text: str) -> tuple[str, ...]:
    import re

    return tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip())


def _story_of(data: dict) -> Story:
    return Story(
        title=data["title"],
        role="featured" if data["role"] == "featured" else "ticker",
        source="editor",
        url=data["url"] or None,
        published_at=datetime.fromisoformat(data["added_at"]),
        paragraphs=_paragraphs(data["text"]),
    )


def added_stories(edits: dict | None) -> list[Story]:
    """The stories an editor added by hand, as stories."""
    return [_story_of(a) for a in clean(edits).get("added", [])]


def original_key(edits: dict | None, story: Story) -> str:
    """The key the edits know ``story`` by: a story without a link is keyed by its title, and
    a rewritten title must not make it another story."""
    if story.url:
        return story.url
    for key, change in (clean(edits).get("rewritten") or {}).items():
        if change.get("title") == story.title:
            return key
    return story.title


def _rewrite(story: Story, change: Mapping[str, str]) -> Story:
    changes: dict = {}
    if change.get("title"):
        changes["title"] = change["title"]
    if change.get("lede"):
        # The editor's words replace the source's: its summary HTML would contradict them.
        changes.update(paragraphs=_paragraphs(change["lede"]), summary_html=None)
    return dataclasses.replace(story, **changes)


def _add_and_move(edition: Edition, added: list[dict], roles: Mapping[str, str]) -> Edition:
    """Stories added by hand first in their section (the editor moves them from there), then
    promotions to the end of featured and demotions into the ticker at their time."""
    sections = {s: list(getattr(edition, s)) for s in SECTIONS}
    for data in reversed(added):
        story = _story_of(data)
        if all(
            story_key(story) != story_key(s) for s in (*sections["ticker"], *sections["featured"])
        ):
            sections[story.role].insert(0, story)
    for key, role in roles.items():
        other = "ticker" if role == "featured" else "featured"
        found = next((s for s in sections[other] if story_key(s) == key), None)
        if found is None:
            continue
        sections[other].remove(found)
        moved = dataclasses.replace(found, role=role)
        if role == "featured":
            sections["featured"].append(moved)
        else:
            _place(sections["ticker"], moved)
    return dataclasses.replace(
        edition, ticker=tuple(sections["ticker"]), featured=tuple(sections["featured"])
    )


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
    if edits.get("added") or edits.get("roles"):
        edition = _add_and_move(edition, edits.get("added", []), edits.get("roles", {}))
    dropped = set(edits.get("dropped", ()))
    pinned = edits.get("pinned", [])
    order = edits.get("order", {})
    changes: dict = {
        section: _arrange(getattr(edition, section), order.get(section, []), pinned, dropped)
        for section in SECTIONS
    }
    rewritten = edits.get("rewritten", {})
    if rewritten:
        for section in SECTIONS:
            changes[section] = tuple(
                _rewrite(s, rewritten[story_key(s)]) if story_key(s) in rewritten else s
                for s in changes[section]
            )
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
