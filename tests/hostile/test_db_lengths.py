"""Nothing data-derived exceeds a String column on insert, on SQLite and on PostgreSQL.

PostgreSQL refuses a value longer than its varchar (StringDataRightTruncation) where SQLite
stores it: a 100 kB headline under subject = "{top}" crashed a PostgreSQL send at the editions
insert (editions.subject is String(1000)).
"""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime
from email import message_from_bytes
from email.policy import default

import pytest

from digest.config import load_config
from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.edition.build import edition_for_send
from digest.headers import SUBJECT_MAX
from digest.store import schema as t
from digest.store.csvio import read_subscriber_csv
from digest.store.db import open_database
from digest.store.editions import get_edition, save_edition
from digest.store.feeds import SqlFeedCache
from digest.store.subscribers import import_subscribers, lists
from digest.tokens import TokenSigner
from tests.conftest import SAMPLE, SAMPLE_NOW

HEADLINE = "Le Maroc et la France renforcent leur coopération sécuritaire"
HUGE = "Breaking " * 12_000  # 108 kB, one line


@pytest.fixture
def huge_site(site, tmp_path):
    """The test site, its featured headline 108 kB long, and subject = "{top}"."""
    source = tmp_path / "homepage-huge.txt"
    text = SAMPLE.read_text(encoding="utf-8")
    assert HEADLINE in text
    source.write_text(text.replace(HEADLINE, HUGE, 1), encoding="utf-8")
    toml = site.read_text(encoding="utf-8").replace(str(SAMPLE), str(source))
    site.write_text(toml + '\n[edition]\nsubject = "{top}"\n', encoding="utf-8")
    config = load_config(site, env={})
    database = open_database(config.database_url)
    yield config, database
    database.close()


def test_a_100kb_headline_is_stored_and_sent_with_a_capped_subject(huge_site, tmp_path):
    """Attacks: editions.subject (String(1000)) with a 100 kB feed headline, then the Subject."""
    config, db = huge_site
    import_subscribers(
        db,
        "matinale",
        read_subscriber_csv(b"email,name\namina@example.org,Amina\nomar@example.org,Omar\n"),
    )
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    assert len(stored.edition.subject) <= SUBJECT_MAX and stored.edition.subject.endswith("…")
    assert stored.edition.featured[0].title == HUGE.strip()  # the story itself is not cut
    report = deliver(
        config, db, stored, OutboxBackend(tmp_path / "out"), signer=TokenSigner("k" * 40)
    )
    assert report.sent == 2
    for path in sorted((tmp_path / "out").glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=default)
        assert msg["Subject"] == stored.edition.subject


def test_an_edition_from_elsewhere_with_a_huge_subject_is_stored(config, db):
    """Attacks: the same column through save_edition itself (an edition.json, an old build)."""
    import_subscribers(db, "matinale", read_subscriber_csv(b"email\namina@example.org\n"))
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    edition = dataclasses.replace(stored.edition, id="matinale-2025-07-02", subject=HUGE)
    save_edition(db, edition, stored.rendered)
    with db.read() as conn:
        column = conn.scalar(
            t.editions.select()
            .with_only_columns(t.editions.c.subject)
            .where(t.editions.c.id == edition.id)
        )
    assert len(column) <= SUBJECT_MAX
    assert get_edition(db, edition.id) is not None


def test_a_long_list_title_is_cut_to_its_column(db):
    """Attacks: lists.title (String(200)) through an import's --title."""
    import_subscribers(
        db, "longtitle", read_subscriber_csv(b"email\namina@example.org\n"), title="T" * 5000
    )
    [info] = [i for i in lists(db) if i.name == "longtitle"]
    assert info.title == "T" * t.lists.c.title.type.length


def test_feed_cache_keeps_no_oversized_validator(db):
    """Attacks: feed_cache.etag/last_modified/content_type, chosen by a remote server."""
    cache = SqlFeedCache(db)
    url = "https://news.example.ma/rss"
    cache.put(
        url,
        etag='"' + "e" * 5000 + '"',
        last_modified="M" * 500,
        body=b"<rss/>",
        content_type="application/rss+xml; " + "p" * 500,
    )
    entry = cache.get(url)
    assert entry.etag is None and entry.last_modified is None  # a cut one would never match
    assert entry.body == b"<rss/>" and len(entry.content_type) <= 200
    long_url = url + "?q=" + "x" * 3000  # over feed_cache.url: not cached rather than a crash
    cache.put(long_url, etag=None, last_modified=None, body=b"<rss/>", content_type=None)
    assert cache.get(long_url) is None


def test_a_schedule_with_an_oversized_field_is_refused_clearly(db):
    """Attacks: schedules.name / cron (String(100)) from the command line."""
    from digest.store.schedules import Schedule, ScheduleError, add_schedule

    with pytest.raises(ScheduleError, match="name is longer than 100"):
        add_schedule(
            db,
            Schedule(
                name="n" * 500, list_name="matinale", cron="0 7 * * *", timezone="Africa/Casablanca"
            ),
        )


def test_an_oversized_address_from_a_webhook_is_not_a_crash(db):
    """Attacks: suppressions.email_key (String(320)) with a bounce for a 5 kB "address"."""
    from digest.store.subscribers import is_suppressed, suppress

    assert suppress(db, "a" * 5000 + "@example.org", "bounce", source="sendgrid-webhook") is False
    assert not is_suppressed(db, "a" * 5000 + "@example.org")


def test_hostile_names_through_the_database_and_the_send_loop(config, db, tmp_path):
    """Attacks: CSV names stored in the database, read back by the send loop, written to To.
    Every name the import accepts must come out of every message as one header, no Bcc."""
    import csv

    from tests.hostile.fixtures.header_values import HEADER_VALUES
    from tests.hostile.mail import BUILD_HEADERS, check_message

    buf = io.StringIO()
    rows = [[f"reader{i}@example.org", value] for i, (_, value, _) in enumerate(HEADER_VALUES)]
    csv.writer(buf, lineterminator="\r\n").writerows([["email", "name"], *rows])
    report = import_subscribers(db, "matinale", read_subscriber_csv(buf.getvalue().encode()))
    assert report.added >= 15  # the encoded-word names all pass the import: they are text
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    sent = deliver(
        config, db, stored, OutboxBackend(tmp_path / "out"), signer=TokenSigner("k" * 40)
    )
    files = sorted((tmp_path / "out").glob("*.eml"))
    assert sent.sent == report.added == len(files)
    for path in files:
        check_message(path.read_bytes(), headers=BUILD_HEADERS, html=None, text=None)
