"""Near duplicates: real headline pairs that must merge and pairs that must not."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import EditionConfig
from digest.edition.similar import merge_similar, similarity
from digest.models import Story, edition_from_dict, edition_to_dict

PAIRS = json.loads((Path(__file__).parents[1] / "fixtures/similar/headline_pairs.json").read_text())
THRESHOLD = EditionConfig().duplicate_threshold
REF = datetime(2025, 7, 1, 7, 0, tzinfo=ZoneInfo("Africa/Casablanca"))


@pytest.mark.parametrize(("a", "b"), PAIRS["merge"])
def test_same_story_pairs_reach_the_default_threshold(a, b):
    assert similarity(a, b) >= THRESHOLD


@pytest.mark.parametrize(("a", "b"), PAIRS["keep"])
def test_different_story_pairs_stay_below_it(a, b):
    assert similarity(a, b) < THRESHOLD


def test_featured_wins_with_better_link_and_earlier_time():
    ticker = Story(
        title=PAIRS["merge"][0][1],
        role="ticker",
        source="rss",
        url="https://www.example.ma/a",
        published_at=REF - timedelta(hours=3),
    )
    featured = Story(
        title=PAIRS["merge"][0][0], role="featured", source="homepage", url=None, published_at=REF
    )
    [kept], [merge] = merge_similar([ticker, featured], THRESHOLD)
    assert kept.role == "featured" and kept.title == featured.title
    assert kept.url == "https://www.example.ma/a"
    assert kept.published_at == REF - timedelta(hours=3)
    assert merge.kept == featured.title and merge.dropped == ticker.title


def test_same_source_is_never_merged():
    a = Story(title=PAIRS["merge"][0][0], role="ticker", source="s")
    b = Story(title=PAIRS["merge"][0][1], role="ticker", source="s")
    assert merge_similar([a, b], THRESHOLD) == ([a, b], [])


def test_merges_are_listed_in_edition_json():
    from digest.config import parse_config
    from digest.edition.collect import make_edition
    from digest.models import SourceResult

    config = parse_config(
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
    one = SourceResult(
        "une",
        stories=(Story(title=PAIRS["merge"][1][0], role="ticker", source="une", published_at=REF),),
    )
    two = SourceResult(
        "rss",
        stories=(Story(title=PAIRS["merge"][1][1], role="ticker", source="rss", published_at=REF),),
    )
    e = make_edition(config, [one, two], list_name="matinale", reference_time=REF)
    assert [s.title for s in e.ticker] == [PAIRS["merge"][1][0]]
    data = edition_to_dict(e)
    [merge] = data["merged"]
    assert {k: merge[k] for k in ("kept", "dropped", "score")} == {
        "kept": PAIRS["merge"][1][0],
        "dropped": PAIRS["merge"][1][1],
        "score": 1.0,
    }
    # What undoing the merge needs: the dropped story whole, the kept one's own link and time.
    assert merge["story"]["title"] == PAIRS["merge"][1][1]
    assert merge["story"]["source"] == "rss" and merge["story"]["role"] == "ticker"
    assert merge["story"]["published_at"] == REF.isoformat()
    assert merge["kept_url"] is None and merge["kept_published_at"] == REF.isoformat()
    assert edition_from_dict(json.loads(json.dumps(data))).merged == tuple(data["merged"])
