"""Undoing a near-duplicate merge (edits' ``unmerged``): both stories kept, each as it came."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from digest.config import parse_config
from digest.edition.collect import make_edition
from digest.edition.edits import apply, clean, undoable
from digest.models import SourceResult, Story, edition_from_dict, edition_to_dict

REF = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
KEPT = "Le Maroc et la France renforcent leur coopération sécuritaire"
DROPPED = "Le Maroc et la France renforcent leur coopération"
CONFIG = parse_config(
    {
        "site": {
            "name": "É",
            "url": "https://www.example.ma",
            "timezone": "Africa/Casablanca",
            "locale": "fr",
            "postal_address": "1 rue, Casablanca",
            "public_url": "https://www.example.ma/digest",
        },
        "sender": {"email": "m@example.ma"},
        "lists": {"matinale": {"title": "La matinale"}},
    },
    path=None,
    env={},
)


def edition():
    """A featured story without a link merged with an earlier RSS line that has one."""
    homepage = SourceResult(
        "homepage",
        stories=(
            Story(KEPT, "featured", "homepage", published_at=REF - timedelta(minutes=5)),
            Story("Météo : chaleur", "ticker", "homepage", published_at=REF - timedelta(hours=1)),
            Story("Bourse : hausse", "ticker", "homepage", published_at=REF - timedelta(hours=4)),
        ),
    )
    rss = SourceResult(
        "rss",
        stories=(
            Story(
                DROPPED,
                "ticker",
                "rss",
                url="https://www.example.ma/maroc-france",
                published_at=REF - timedelta(hours=2),
            ),
        ),
    )
    built = make_edition(CONFIG, [homepage, rss], list_name="matinale", reference_time=REF)
    # as the web app has it: read back from the stored JSON
    return edition_from_dict(json.loads(json.dumps(edition_to_dict(built))))


def test_the_merge_took_the_link_and_the_earlier_time():
    e = edition()
    [featured] = e.featured
    assert featured.title == KEPT and featured.url == "https://www.example.ma/maroc-france"
    assert featured.published_at == REF - timedelta(hours=2)
    assert [s.title for s in e.ticker] == ["Météo : chaleur", "Bourse : hausse"]
    assert [m["dropped"] for m in e.merged] == [DROPPED] and undoable(e.merged[0])


def test_undo_keeps_both_each_with_its_own_link_and_time():
    e = edition()
    out = apply(e, {"unmerged": [DROPPED]})
    [featured] = out.featured
    assert featured.title == KEPT and featured.url is None  # it had no link of its own
    assert featured.published_at == REF - timedelta(minutes=5)
    # the dropped story is back in the ticker, at its time (newest first), with its link
    assert [s.title for s in out.ticker] == ["Météo : chaleur", DROPPED, "Bourse : hausse"]
    back = out.ticker[1]
    assert back.url == "https://www.example.ma/maroc-france" and back.source == "rss"
    assert back.role == "ticker" and back.published_at == REF - timedelta(hours=2)
    assert out.merged == ()  # no longer a merge of this edition


def test_merge_again_and_other_edits_still_apply():
    e = edition()
    assert apply(e, {"unmerged": []}) == apply(e, {}) == e
    out = apply(e, {"unmerged": [DROPPED], "pinned": ["https://www.example.ma/maroc-france"]})
    assert out.ticker[0].title == DROPPED  # the restored story can be pinned like any other
    dropped = apply(e, {"unmerged": [DROPPED], "dropped": ["https://www.example.ma/maroc-france"]})
    assert DROPPED not in [s.title for s in dropped.ticker]
    assert clean({"unmerged": [DROPPED, DROPPED, ""]}) == {"unmerged": [DROPPED]}


def test_a_merge_recorded_without_its_story_is_left_alone():
    e = edition()
    old = edition_from_dict(
        {**edition_to_dict(e), "merged": [{"kept": KEPT, "dropped": DROPPED, "score": 1.0}]}
    )
    assert not undoable(old.merged[0])
    assert apply(old, {"unmerged": [DROPPED]}) == old
    assert apply(e, {"unmerged": ["no such title"]}) == e
