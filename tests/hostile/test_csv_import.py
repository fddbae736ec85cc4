"""Hostile subscriber files through the real import, on SQLite and PostgreSQL (issue 8).

Each test names what it attacks and what happened before this change.
"""

import pytest
from sqlalchemy import select

from digest.store import schema as t
from digest.store.csvio import CsvFormatError, open_subscriber_files, read_subscriber_csv
from digest.store.subscribers import (
    count_members,
    import_subscribers,
    is_suppressed,
    list_members,
)
from tests.hostile.csv_files import FIXTURES, mailchimp_zip


def stored(db, email):
    s = t.subscribers
    with db.read() as conn:
        return conn.execute(
            select(s.c.name, s.c.locale, s.c.timezone).where(s.c.email_key == email.lower())
        ).first()


def statuses(db, list_name):
    return {m.email: m.status for m in list_members(db, list_name)}


def test_mailchimp_zip_keeps_consent_names_and_time_zones(db, tmp_path):
    # Before: the unsubscribed and cleaned files were imported as active subscribers (consent
    # broken) and First/Last Name were dropped.
    report = import_subscribers(db, "matinale", open_subscriber_files(mailchimp_zip(tmp_path)))
    assert report.formats == [
        "cleaned_members_export_3f9a1c2b7e.csv: Mailchimp audience export (cleaned members)",
        "unsubscribed_members_export_3f9a1c2b7e.csv: Mailchimp audience export "
        "(unsubscribed members)",
        "subscribed_members_export_3f9a1c2b7e.csv: Mailchimp audience export (subscribed members)",
    ]
    assert (report.added, report.opted_out, report.suppressed, report.total_rejected) == (
        4,
        2,
        1,
        0,
    )
    assert report.rows == 7
    assert statuses(db, "matinale") == {
        "nadia.benali@example.com": "active",
        "john.smith@example.org": "active",
        "yasmine@example.com": "active",
        "solo@example.com": "active",
        "karim.tazi@example.com": "unsubscribed",
        "Anne.Durand@example.com": "unsubscribed",
    }
    assert count_members(db, "matinale") == {"active": 4, "unsubscribed": 2, "suppressed": 0}
    assert is_suppressed(db, "bounced.forever@example.net")
    assert stored(db, "bounced.forever@example.net") is None  # a suppression, no subscriber
    assert tuple(stored(db, "nadia.benali@example.com")) == (
        "Nadia Ben Ali",
        None,
        "Africa/Casablanca",
    )
    assert tuple(stored(db, "karim.tazi@example.com")) == ("Karim Tazi", None, "Africa/Casablanca")
    # The invalid zone is reported, dropped, and the row imported anyway.
    assert tuple(stored(db, "yasmine@example.com")) == ("ياسمين العلوي", None, None)
    assert [(w.file, w.line) for w in report.warnings] == [
        ("subscribed_members_export_3f9a1c2b7e.csv", 4)
    ]


def test_mailchimp_opt_outs_are_never_resubscribed(db, tmp_path):
    import_subscribers(db, "matinale", open_subscriber_files(mailchimp_zip(tmp_path)))
    # The same people come back in a plain CSV (an old spreadsheet): consent stays withdrawn.
    again = import_subscribers(
        db,
        "matinale",
        read_subscriber_csv(
            b"email,name\nkarim.tazi@example.com,Karim\nbounced.forever@example.net,Old\n"
        ),
    )
    assert (again.added, again.skipped_unsubscribed, again.skipped_suppressed) == (0, 1, 1)
    assert statuses(db, "matinale")["karim.tazi@example.com"] == "unsubscribed"
    # ... and on a new list the cleaned address is still never mailed.
    other = import_subscribers(
        db, "soir", read_subscriber_csv(b"email\nbounced.forever@example.net\n")
    )
    assert (other.added, other.skipped_suppressed) == (0, 1)


def test_mailchimp_unsubscribed_file_ends_an_active_membership(db, tmp_path):
    import_subscribers(db, "matinale", read_subscriber_csv(b"email\nkarim.tazi@example.com\n"))
    import_subscribers(db, "matinale", open_subscriber_files(mailchimp_zip(tmp_path)))
    assert statuses(db, "matinale")["karim.tazi@example.com"] == "unsubscribed"


def test_reimporting_the_mailchimp_zip_changes_nothing(db, tmp_path):
    path = mailchimp_zip(tmp_path)
    import_subscribers(db, "matinale", open_subscriber_files(path))
    before = statuses(db, "matinale")
    again = import_subscribers(db, "matinale", open_subscriber_files(path))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert statuses(db, "matinale") == before


def test_listmonk_blocklisted_is_suppressed_disabled_not_imported(db):
    report = import_subscribers(
        db, "matinale", open_subscriber_files(FIXTURES / "listmonk-export.csv")
    )
    assert report.formats == ["listmonk subscriber export"]
    assert (report.added, report.suppressed, report.total_rejected) == (2, 1, 1)
    assert is_suppressed(db, "spam.report@example.com")
    assert statuses(db, "matinale") == {"salma@example.com": "active", "omar@example.org": "active"}
    assert stored(db, "omar@example.org").name == "عمر الفاسي"


def test_cp1256_names_are_stored_as_arabic(db):
    # Before: read as Windows-1252 and stored as "ÝÇØãÉ ÇáÒåÑÇÁ" with only a note.
    report = import_subscribers(
        db, "matinale", open_subscriber_files(FIXTURES / "arabic-cp1256.csv")
    )
    assert report.added == 4
    assert stored(db, "fatima.zahra@example.com").name == "فاطمة الزهراء العلوي"
    assert any("Windows-1256" in note for note in report.notes)


def test_mixed_encoding_file_imports_the_rows_that_decode(db):
    report = import_subscribers(
        db, "matinale", open_subscriber_files(FIXTURES / "mixed-encoding.csv")
    )
    assert report.added == 3
    assert [r.line for r in report.rejected] == [4, 5]
    assert stored(db, "gerard@example.com") is None


def test_a_200k_character_field_does_not_lose_the_file(db):
    # Before: "field larger than field limit (131072)" aborted the import, 0 rows kept.
    report = import_subscribers(db, "matinale", open_subscriber_files(FIXTURES / "long-field.csv"))
    assert report.added == 2
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "a field is longer than 131,072 characters: row skipped")
    ]


def test_broken_quoting_half_way_through_a_streamed_file_changes_nothing(db):
    # Rows are written in chunks while the file is read: a fatal error after several chunks
    # must still roll everything back (one transaction).
    good = b"".join(b"p%d@example.com,P\n" % i for i in range(1_500))
    data = b"email,name\n" + good + b'late@example.com,"never closed\nx@example.com,X\n'
    with pytest.raises(CsvFormatError, match="line 1502: the CSV quoting is broken"):
        import_subscribers(db, "matinale", open_subscriber_files(data))
    with db.read() as conn:
        assert conn.scalar(select(t.subscribers.c.id).limit(1)) is None
        assert conn.scalar(select(t.lists.c.id).limit(1)) is None


def test_plain_csv_time_zone_column_fills_and_never_erases(db):
    import_subscribers(
        db, "matinale", read_subscriber_csv(b"email;fuseau\na@example.com;Africa/Casablanca\n")
    )
    assert stored(db, "a@example.com").timezone == "Africa/Casablanca"
    again = import_subscribers(
        db, "matinale", read_subscriber_csv(b"email,timezone\na@example.com,\n")
    )
    assert again.unchanged == 1 and stored(db, "a@example.com").timezone == "Africa/Casablanca"
    moved = import_subscribers(
        db, "matinale", read_subscriber_csv(b"email,timezone\na@example.com,Europe/Paris\n")
    )
    assert moved.updated == 1 and stored(db, "a@example.com").timezone == "Europe/Paris"
