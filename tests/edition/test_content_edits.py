"""digest.edition.edits: rewrites, stories added by hand, promotions (pure functions)."""

from datetime import UTC, datetime

import pytest

from digest.edition.edits import (
    EditError,
    added_stories,
    apply,
    clean,
    link,
    new_story,
    original_key,
)
from digest.models import Edition, Story

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
ADDED_AT = datetime(2025, 7, 1, 8, 30, tzinfo=UTC)


def story(title, role="ticker", url=None, hour=None, paragraphs=()):
    at = NOW.replace(hour=hour) if hour is not None else None
    return Story(
        title=title, role=role, source="t", url=url, published_at=at, paragraphs=paragraphs
    )


@pytest.fixture
def edition():
    return Edition(
        id="l-2025-07-01",
        list_name="l",
        subject="S",
        preheader="P",
        locale="fr",
        timezone="Africa/Casablanca",
        reference_time=NOW,
        window_start=NOW,
        ticker=(story("a", hour=7), story("b", url="https://x/b", hour=6), story("c", hour=5)),
        featured=(
            story("F1", "featured", url="https://x/f1", paragraphs=("p1", "p2")),
            story("F2", "featured"),
        ),
    )


def titles(stories):
    return [s.title for s in stories]


def test_rewrite_a_headline_and_a_lede(edition):
    out = apply(
        edition,
        {
            "rewritten": {
                "https://x/b": {"title": "B!"},
                "https://x/f1": {"lede": "Nouveau.\n\nDeux."},
            }
        },
    )
    assert titles(out.ticker) == ["a", "B!", "c"]
    assert out.featured[0].paragraphs == ("Nouveau.", "Deux.")
    assert out.featured[0].summary_html is None and out.featured[0].title == "F1"


def test_a_story_without_a_link_keeps_its_key_when_renamed(edition):
    edits = {"rewritten": {"c": {"title": "C renamed"}}, "pinned": ["c"]}
    out = apply(edition, edits)
    assert titles(out.ticker) == ["C renamed", "a", "b"]
    assert original_key(edits, out.ticker[0]) == "c"
    assert original_key(edits, out.ticker[1]) == "a"


def test_added_stories_come_first_in_their_section(edition):
    added = [
        new_story("Ajout", "https://x/new", "Un.\n\nDeux.", "featured", ADDED_AT),
        new_story("Brève", "", "", "ticker", ADDED_AT),
    ]
    out = apply(edition, {"added": added})
    assert titles(out.featured) == ["Ajout", "F1", "F2"]
    assert out.featured[0].paragraphs == ("Un.", "Deux.") and out.featured[0].source == "editor"
    assert titles(out.ticker) == ["Brève", "a", "b", "c"]
    assert out.ticker[0].published_at == ADDED_AT
    # Moved, dropped, rewritten like any story.
    out = apply(edition, {"added": added, "dropped": ["Brève"], "order": {"featured": ["F2"]}})
    assert titles(out.ticker) == ["a", "b", "c"] and titles(out.featured) == ["F2", "Ajout", "F1"]
    assert titles(added_stories({"added": added})) == ["Ajout", "Brève"]


def test_promote_and_demote(edition):
    out = apply(edition, {"roles": {"a": "featured", "https://x/f1": "ticker"}})
    assert titles(out.featured) == ["F2", "a"] and out.featured[1].role == "featured"
    assert titles(out.ticker) == ["b", "c", "F1"]  # undated: last in the ticker
    assert out.ticker[-1].role == "ticker"
    assert apply(edition, {"roles": {"a": "ticker"}}) == edition  # already there


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JAVASCRIPT:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "ftp://x/y",
        "https://",
        "//x/y",
        "https://x/\ny",
        "https://x /y",
        "https://" + "x" * 3000,
    ],
)
def test_only_http_links(url):
    assert link(url) is None
    with pytest.raises(EditError):
        new_story("T", url, "", "ticker", ADDED_AT)


def test_new_story_checks():
    assert link("https://www.example.ma/a?b=1#c") == "https://www.example.ma/a?b=1#c"
    assert link("http://example.com") == "http://example.com"
    with pytest.raises(EditError, match="title"):
        new_story(" \n ", "https://x/", "", "ticker", ADDED_AT)
    with pytest.raises(EditError):
        new_story("T", "https://x/", "", "sidebar", ADDED_AT)
    assert new_story("T\r\nBcc: x", "", "", "ticker", ADDED_AT)["title"] == "T Bcc: x"


def test_clean_keeps_old_edits_and_drops_broken_new_ones():
    old = {"pinned": ["a"], "dropped": ["b"], "order": {"ticker": ["c"]}, "note": "n"}
    assert clean(old) == old  # edits stored before rewrites existed are unchanged
    broken = {
        "rewritten": {"a": "not a dict", "": {"title": "x"}, "b": {"title": " ", "lede": ""}},
        "added": [{"title": "x", "url": "javascript:1", "role": "ticker", "added_at": "2025"}],
        "roles": {"a": "sidebar"},
    }
    assert clean(broken) == {}
