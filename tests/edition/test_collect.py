from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import load_config
from digest.edition.collect import canonical_url, dedupe, make_edition, normalize_title, one_line
from digest.errors import NoStoriesError
from digest.models import SourceResult, Story

TZ = ZoneInfo("Africa/Casablanca")
REF = datetime(2025, 7, 1, 8, 0, tzinfo=TZ)
CONFIG = load_config(Path(__file__).resolve().parents[2] / "digest.toml", env={})


def story(title, hours_ago=1.0, role="ticker", url=None, source="s"):
    when = None if hours_ago is None else REF - timedelta(hours=hours_ago)
    return Story(title=title, role=role, source=source, url=url, published_at=when)


def edition(*results, **kw):
    return make_edition(CONFIG, list(results), list_name="matinale", reference_time=REF, **kw)


def test_window_edges_and_future_items():
    result = SourceResult(
        "feed",
        stories=(
            story("inside", 23.99),
            story("exactly at start", 24),
            story("older", 30),
            story("at reference", 0),
            story("in the future", -0.5),
            story("undated", None),
        ),
    )
    titles = [s.title for s in edition(result).ticker]
    assert titles == ["at reference", "inside", "undated"]  # undated last


def test_ticker_newest_first_and_capped_with_warning():
    stories = tuple(story(f"t{i}", hours_ago=i / 2) for i in range(40))
    e = edition(SourceResult("feed", stories=stories[::-1]))
    assert [s.title for s in e.ticker] == [f"t{i}" for i in range(30)]
    assert any("10 older headlines left out" in w for w in e.warnings)


def test_dedupe_by_canonical_link_across_sources_first_wins():
    a = story("Titre A", url="https://www.example.ma/a/?utm_source=x&id=2#top", source="rss")
    b = story("Autre titre", url="http://WWW.example.ma/a?id=2&fbclid=1", source="page")
    assert [s.source for s in dedupe([a, b])] == ["rss"]


def test_dedupe_by_normalized_title_and_featured_wins():
    ticker = story("Le Maroc et la France  renforcent", source="ticker-feed")
    featured = story("le maroc et la france, renforcent !", role="featured", source="une")
    e = edition(SourceResult("a", stories=(ticker,)), SourceResult("b", stories=(featured,)))
    assert [s.source for s in e.featured] == ["une"] and e.ticker == ()


def test_extra_featured_join_the_ticker():
    featured = tuple(story(f"f{i}", hours_ago=i + 1, role="featured") for i in range(3))
    e = edition(SourceResult("une", stories=featured))
    assert [s.title for s in e.featured] == ["f0"]
    assert [s.title for s in e.ticker] == ["f1", "f2"]
    assert all(s.role == "ticker" for s in e.ticker)


def test_id_subject_preheader_in_locale_and_one_line(tmp_path):
    # The headline reaches both templates: the sample's own put it only in the subject.
    sample = (Path(__file__).resolve().parents[2] / "digest.toml").read_text(encoding="utf-8")
    lines = [
        'subject = "Matinale : {top}"'
        if line.startswith("subject =")
        else 'preheader = "{top} {briefs}"'
        if line.startswith("preheader =")
        else line
        for line in sample.splitlines()
    ]
    (tmp_path / "digest.toml").write_text("\n".join(lines), encoding="utf-8")
    config = load_config(tmp_path / "digest.toml", env={})
    top = story("Vague de chaleur\r\nBcc: x@y", role="featured")
    e = make_edition(
        config,
        [SourceResult("p", stories=(top, story("b")))],
        list_name="matinale",
        reference_time=REF,
    )
    assert e.id == "matinale-2025-07-01"
    assert e.subject == "Matinale : Vague de chaleur Bcc: x@y"
    assert e.preheader == "Vague de chaleur Bcc: x@y + 1 brève"
    assert e.timezone == "Africa/Casablanca" and e.locale == "fr"
    assert e.window_start == REF - timedelta(hours=24)


def test_failed_sources_warn_and_the_rest_goes_on():
    e = edition(
        SourceResult("down", error="HTTP 503 from https://x"),
        SourceResult("ok", stories=(story("a"),)),
    )
    assert [s.title for s in e.ticker] == ["a"]
    assert e.warnings == ("source 'down' failed: HTTP 503 from https://x",)


def test_every_source_failed_is_an_error_naming_them():
    with pytest.raises(NoStoriesError, match="every source failed.*'a'.*boom.*'b'.*bang"):
        edition(SourceResult("a", error="boom"), SourceResult("b", error="bang"))


def test_nothing_in_window_is_an_error():
    with pytest.raises(NoStoriesError, match="no story published between"):
        edition(SourceResult("old", stories=(story("old", 48),)))


def test_stories_are_shown_in_the_site_zone():
    utc_story = Story(
        "x", "ticker", "s", published_at=datetime(2025, 7, 1, 6, 0, tzinfo=ZoneInfo("UTC"))
    )
    e = edition(SourceResult("s", stories=(utc_story,)))
    assert e.ticker[0].published_at.isoformat() == "2025-07-01T07:00:00+01:00"


def test_helpers():
    assert (
        canonical_url("HTTPS://Ex.com:443/a/b/?b=2&a=1&utm_medium=m#f")
        == "https://ex.com/a/b?a=1&b=2"
    )
    assert normalize_title("  Élan — économique!  ") == "elan economique"
    assert one_line("a\r\nb\tc\u2028d\x00e") == "a b c d e"
