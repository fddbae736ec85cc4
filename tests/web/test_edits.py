"""digest.edition.edits: pure functions over an Edition."""

from datetime import datetime

import pytest

from digest.edition.edits import apply, clean, move, story_key
from digest.models import Edition, Story

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")


def story(title, role="ticker", url=None):
    return Story(title=title, role=role, source="t", url=url)


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
        ticker=(story("a"), story("b", url="https://x/b"), story("c"), story("d")),
        featured=(story("F1", "featured"), story("F2", "featured")),
    )


def titles(stories):
    return [s.title for s in stories]


def test_pin_drop_order(edition):
    out = apply(
        edition, {"pinned": ["c"], "dropped": ["a"], "order": {"ticker": ["d", "https://x/b"]}}
    )
    assert titles(out.ticker) == ["c", "d", "b"]
    assert titles(out.featured) == ["F1", "F2"]


def test_edits_start_from_the_sources_edition_so_they_can_be_undone(edition):
    dropped = apply(edition, {"dropped": ["https://x/b"]})
    assert "b" not in titles(dropped.ticker)
    assert apply(edition, {}) == edition


def test_note_and_subject_are_one_line_and_bounded(edition):
    out = apply(edition, {"subject": "Hello\r\nBcc: evil@example.com", "note": " x " * 5000})
    assert out.subject == "Hello Bcc: evil@example.com"
    assert len(out.note) <= 2000


def test_clean_drops_empty_and_unknown(edition):
    assert clean({"pinned": [], "dropped": [""], "subject": "  ", "other": 1}) == {}
    assert clean({"pinned": ["a", "a"]}) == {"pinned": ["a"]}


def test_key_and_move(edition):
    assert story_key(edition.ticker[1]) == "https://x/b" and story_key(edition.ticker[0]) == "a"
    assert move(["a", "b", "c"], "a", 1) == ["b", "a", "c"]
    assert move(["a", "b", "c"], "a", -1) == ["a", "b", "c"]
    assert move(["a", "b"], "z", 1) == ["a", "b"]


def test_passwords():
    from digest.web.passwords import hash_password, verify_password

    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("Correct horse battery", stored)
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$1$2")
    assert hash_password("p") != hash_password("p")  # salted


def test_rate_limit():
    from digest.web.ratelimit import RateLimit

    now = [0.0]
    limit = RateLimit(2, 10, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    assert limit.allow("b")
    now[0] = 11
    assert limit.allow("a")
