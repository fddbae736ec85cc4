"""Near-duplicate stories across sources: the same story under two headlines.

Rule: titles are normalized (case, accents, punctuation), split into words, and common short
words (articles, prepositions) dropped. Two titles are the same story when their token-set
similarity -- shared words over the words of the shorter title -- reaches
``[edition] duplicate_threshold``, with at least three shared words (two short titles sharing
"le Maroc" are not one story). When they merge, the featured version wins (else the earlier
source), the merged story keeps a link when only one has one, and the earlier time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from digest.models import Story, story_to_dict

MIN_SHARED = 3
STOPWORDS = frozenset(
    "le la les l un une des de du d et en au aux a à son sa ses leur leurs pour par sur avec "
    "dans ce cette ces qui que the of and to in on for with at by an is".split()
)


@dataclass(frozen=True)
class Merge:
    kept: str
    dropped: str
    score: float
    # What an editor needs to undo the merge (digest.edition.edits): the dropped story as its
    # source gave it, and the kept story's own link and time before it took the other's.
    dropped_story: Story | None = None
    kept_url: str | None = None
    kept_published_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kept": self.kept, "dropped": self.dropped, "score": self.score}
        if self.dropped_story is not None:
            out["story"] = story_to_dict(self.dropped_story)
            out["kept_url"] = self.kept_url
            out["kept_published_at"] = (
                self.kept_published_at.isoformat() if self.kept_published_at else None
            )
        return out


def tokens(title: str) -> frozenset[str]:
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return frozenset(w for w in re.sub(r"[\W_]+", " ", bare).split() if w not in STOPWORDS)


def similarity(a: str, b: str) -> float:
    """Shared words over the words of the shorter title (0..1)."""
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    if shared < MIN_SHARED:
        return 0.0
    return shared / min(len(ta), len(tb))


def _better(first: Story, second: Story) -> Story:
    return second if first.role == "ticker" and second.role == "featured" else first


def merge_similar(stories: Sequence[Story], threshold: float) -> tuple[list[Story], list[Merge]]:
    kept: list[Story] = []
    merges: list[Merge] = []
    for story in stories:
        hit = next(
            (
                i
                for i, k in enumerate(kept)
                if k.source != story.source and similarity(k.title, story.title) >= threshold
            ),
            None,
        )
        if hit is None:
            kept.append(story)
            continue
        other = kept[hit]
        winner = _better(other, story)
        loser = story if winner is other else other
        times = [s.published_at for s in (winner, loser) if s.published_at is not None]
        kept[hit] = replace(
            winner, url=winner.url or loser.url, published_at=min(times) if times else None
        )
        merges.append(
            Merge(
                kept=winner.title,
                dropped=loser.title,
                score=round(similarity(winner.title, loser.title), 3),
                dropped_story=loser,
                kept_url=winner.url,
                kept_published_at=winner.published_at,
            )
        )
    return kept, merges
