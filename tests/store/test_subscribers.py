"""Lists, imports, opt-outs and streaming against a real SQLite file."""

import io
from datetime import UTC

import pytest
from sqlalchemy import event, select

from digest.errors import StoreError
from digest.models import Subscriber
from digest.store import schema as t
from digest.store.csvio import CsvResult, CsvRow, read_subscriber_csv
from digest.store.subscribers import (
    ListInfo,
    count_members,
    ensure_list,
    export_subscribers,
    get_subscriber,
    import_subscribers,
    is_suppressed,
    list_members,
    lists,
    suppress,
    unsubscribe,
    unsuppress,
)


def csv(text: str) -> CsvResult:
    return read_subscriber_csv(text.encode("utf-8"))


def people(n: int, start: int = 0, domain: str = "example.com") -> CsvResult:
    return csv(
        "email,name,locale\n"
        + "".join(f"user{i}@{domain},User {i},fr\n" for i in range(start, start + n))
    )


def counts(report):
    return (
        report.added,
        report.updated,
        report.unchanged,
        report.skipped_unsubscribed,
        report.skipped_suppressed,
    )


class StatementCounter:
    def __init__(self, engine):
        self.statements = []
        event.listen(engine, "before_cursor_execute", self._record)
        self.engine = engine

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._record)


# --------------------------------------------------------------------------- import


def test_import_excel_file_creates_the_list_and_reports(db, fixture_path):
    report = import_subscribers(
        db, "matin", read_subscriber_csv(fixture_path("excel-fr.csv")), title="Le matin"
    )
    assert report.created_list is True
    assert counts(report) == (4, 0, 0, 0, 0)
    assert [r.line for r in report.rejected] == [6, 9]
    assert report.merged == 1
    assert lists(db) == [ListInfo("matin", "Le matin", 4)]
    assert [(m.email, m.name, m.locale, m.status) for m in list_members(db, "matin")] == [
        ("camille.martin@example.com", "Camille Martin", "fr", "active"),
        ("jean.dupont@example.org", "Dupont; Jean", "fr_MA", "active"),
        ("hélène@example.com", "Hélène Lefèvre", "fr", "active"),
        ("yasmine@example.com", 'Yasmine "Yas" Benali', None, "active"),
    ]
    member = list_members(db, "matin")[0]
    assert member.subscribed_at.tzinfo == UTC and member.unsubscribed_at is None


def test_reimporting_the_same_file_changes_nothing(db, fixture_path):
    data = read_subscriber_csv(fixture_path("excel-fr.csv"))
    import_subscribers(db, "matin", data)
    with db.read() as conn:
        before = conn.execute(select(t.subscribers).order_by(t.subscribers.c.id)).all()
        memberships_before = conn.execute(select(t.memberships)).all()
    report = import_subscribers(db, "matin", data)
    assert report.created_list is False
    assert counts(report) == (0, 0, 4, 0, 0)
    with db.read() as conn:
        assert conn.execute(select(t.subscribers).order_by(t.subscribers.c.id)).all() == before
        assert conn.execute(select(t.memberships)).all() == memberships_before


def test_changed_names_update_and_empty_cells_keep_stored_values(db):
    import_subscribers(
        db,
        "matin",
        csv(
            "email,name,locale\na@example.com,Anne,fr\nb@example.com,Bob,en\nc@example.com,Cy,ar\n"
        ),
    )
    report = import_subscribers(
        db,
        "matin",
        csv(
            "email,name,locale\nA@EXAMPLE.COM,Anne Marie,\nb@example.com,,\n"
            "c@example.com,Cy,ar_MA\n"
        ),
    )
    assert counts(report) == (0, 2, 1, 0, 0)
    assert [(m.email, m.name, m.locale) for m in list_members(db, "matin")] == [
        ("a@example.com", "Anne Marie", "fr"),  # stored spelling kept, locale not erased
        ("b@example.com", "Bob", "en"),
        ("c@example.com", "Cy", "ar_MA"),
    ]
    # A file without a name column at all does not wipe names either.
    assert counts(import_subscribers(db, "matin", csv("email\nb@example.com\n"))) == (0, 0, 1, 0, 0)


def test_same_person_on_two_lists_is_one_subscriber(db):
    import_subscribers(db, "matin", csv("email,name\nshared@example.com,Sam\n"))
    report = import_subscribers(db, "soir", csv("email,name\nSHARED@example.com,Samir\n"))
    assert counts(report) == (1, 0, 0, 0, 0)  # new to this list: added, profile updated
    [on_matin] = list_members(db, "matin")
    [on_soir] = list_members(db, "soir")
    assert on_matin.id == on_soir.id and on_matin.name == "Samir"
    assert lists(db) == [ListInfo("matin", "matin", 1), ListInfo("soir", "soir", 1)]


def test_unsubscribed_address_is_not_resubscribed_by_a_reimport(db, fixture_path):
    data = read_subscriber_csv(fixture_path("excel-fr.csv"))
    import_subscribers(db, "matin", data)
    assert unsubscribe(db, "Jean.Dupont@EXAMPLE.org", "matin") == 1
    left = {m.email: m for m in list_members(db, "matin")}["jean.dupont@example.org"]
    assert left.status == "unsubscribed" and left.unsubscribed_at is not None

    report = import_subscribers(db, "matin", data)
    assert counts(report) == (0, 0, 3, 1, 0)
    again = {m.email: m for m in list_members(db, "matin")}["jean.dupont@example.org"]
    assert again == left  # same status, same unsubscribed_at
    assert count_members(db, "matin") == {"active": 3, "unsubscribed": 1, "suppressed": 0}


def test_suppressed_addresses_are_skipped_by_import(db):
    suppress(db, "Bounced@example.com", "bounce", source="sendgrid-webhook")
    report = import_subscribers(db, "matin", csv("email\nbounced@example.com\nfine@example.com\n"))
    assert counts(report) == (1, 0, 0, 0, 1)
    assert [m.email for m in list_members(db, "matin")] == ["fine@example.com"]


def test_every_row_is_counted_once(db):
    import_subscribers(db, "matin", people(10))
    unsubscribe(db, "user1@example.com", "matin")
    suppress(db, "user2@example.com", "spamreport")
    report = import_subscribers(
        db,
        "matin",
        csv(
            "email,name,locale\n"
            + "".join(f"user{i}@example.com,User {i},fr\n" for i in range(8))
            + "user3@example.com,Renamed,fr\nnew@example.com,New,\n"
        ),
    )
    # 0,3,4,5,6,7 unchanged; 1 left; 2 suppressed; "new" added; user3's 2nd row merged.
    assert counts(report) == (1, 0, 6, 1, 1)
    assert report.merged == 1 and report.rows == 9


def test_hand_built_results_with_duplicates_are_merged(db):
    rows = [CsvRow(2, "x@example.com", "X"), CsvRow(3, "X@example.com", "Other")]
    report = import_subscribers(db, "matin", CsvResult(rows=rows))
    assert counts(report) == (1, 0, 0, 0, 0) and report.merged == 1


def test_arabic_names_survive_import_and_export(db, fixture_path, tmp_path):
    import_subscribers(db, "صباح", read_subscriber_csv(fixture_path("arabic.csv")))
    out = tmp_path / "export.csv"
    assert export_subscribers(db, "صباح", out) == 4
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,name,locale,status"
    assert lines[1] == "fatima.zahra@example.com,فاطمة الزهراء,ar,active"
    assert lines[3] == "salma@example.com,سلمى بنعلي,ar_MA,active"


def test_100k_rows_import_in_batches(db):
    data = people(100_000)
    counter = StatementCounter(db.engine)
    try:
        report = import_subscribers(db, "big", data)
    finally:
        counter.close()
    assert counts(report) == (100_000, 0, 0, 0, 0)
    # Batched: a handful of statements per 500 rows, never one per row.
    assert len(counter.statements) < 1_500
    assert count_members(db, "big") == {"active": 100_000, "unsubscribed": 0, "suppressed": 0}
    assert counts(import_subscribers(db, "big", data)) == (0, 0, 100_000, 0, 0)


def test_list_names_are_checked(db):
    with pytest.raises(StoreError, match="not a usable list name"):
        import_subscribers(db, "  ", people(1))
    with pytest.raises(StoreError, match="not a usable list name"):
        ensure_list(db, "a\nb")
    assert ensure_list(db, " matin ", "Le matin") is True
    assert ensure_list(db, "matin") is False
    assert lists(db) == [ListInfo("matin", "Le matin", 0)]


# --------------------------------------------------------------------------- reading


def test_count_members_buckets_are_disjoint(db):
    import_subscribers(db, "matin", people(6))
    unsubscribe(db, "user0@example.com", "matin")
    suppress(db, "user0@example.com", "bounce")  # unsubscribed and suppressed: unsubscribed
    suppress(db, "user1@example.com", "bounce")
    suppress(db, "user2@example.com", "spamreport")
    assert count_members(db, "matin") == {"active": 3, "unsubscribed": 1, "suppressed": 2}
    assert lists(db) == [ListInfo("matin", "matin", 3)]
    assert [m.status for m in list_members(db, "matin")] == [
        "unsubscribed",
        "suppressed",
        "suppressed",
        "active",
        "active",
        "active",
    ]


def test_export_keeps_opt_outs_out_of_a_reimport(db):
    import_subscribers(db, "matin", people(4))
    unsubscribe(db, "user1@example.com", "matin")
    suppress(db, "user2@example.com", "bounce")
    buffer = io.StringIO()
    assert export_subscribers(db, "matin", buffer) == 4
    assert buffer.getvalue().splitlines()[1:] == [
        "user0@example.com,User 0,fr,active",
        "user1@example.com,User 1,fr,unsubscribed",
        "user2@example.com,User 2,fr,suppressed",
        "user3@example.com,User 3,fr,active",
    ]
    report = import_subscribers(db, "copy", csv(buffer.getvalue()))
    assert counts(report) == (2, 0, 0, 0, 0)
    assert [r.line for r in report.rejected] == [3, 4]
    assert [m.email for m in list_members(db, "copy")] == ["user0@example.com", "user3@example.com"]


def test_unknown_list_is_a_clear_store_error(db):
    ensure_list(db, "matin")
    ensure_list(db, "soir")
    message = "there is no subscriber list named 'midi' (known lists: matin, soir)"
    for call in (
        lambda: count_members(db, "midi"),
        lambda: list_members(db, "midi"),
        lambda: unsubscribe(db, "a@example.com", "midi"),
        lambda: export_subscribers(db, "midi", io.StringIO()),
    ):
        with pytest.raises(StoreError) as info:
            call()
        assert str(info.value).startswith(message)


def test_export_of_unknown_list_does_not_create_the_file(db, tmp_path):
    with pytest.raises(StoreError):
        export_subscribers(db, "midi", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_get_subscriber(db):
    import_subscribers(db, "matin", csv("email,name,locale\nZoe@Example.com,Zoé,fr_MA\n"))
    [member] = list_members(db, "matin")
    assert get_subscriber(db, member.id) == Subscriber(member.id, "Zoe@example.com", "Zoé", "fr_MA")
    assert get_subscriber(db, member.id + 1) is None


# --------------------------------------------------------------------------- opting out


def test_unsubscribe_is_idempotent_and_case_insensitive(db):
    import_subscribers(db, "matin", people(2))
    assert unsubscribe(db, "USER0@Example.com", "matin") == 1
    assert unsubscribe(db, "user0@example.com", "matin") == 0
    assert unsubscribe(db, "stranger@example.com", "matin") == 0
    assert count_members(db, "matin") == {"active": 1, "unsubscribed": 1, "suppressed": 0}
    assert not is_suppressed(db, "user0@example.com")  # one list only: no global suppression


def test_unsubscribe_from_all_lists_also_suppresses(db):
    import_subscribers(db, "matin", people(2))
    import_subscribers(db, "soir", people(2))
    import_subscribers(db, "weekend", people(1, start=1))
    unsubscribe(db, "user0@example.com", "soir")
    assert unsubscribe(db, "user0@example.com") == 1  # only "matin" was still active
    assert unsubscribe(db, "user0@example.com") == 0
    assert is_suppressed(db, "User0@example.com")
    assert [(i.name, i.active_count) for i in lists(db)] == [
        ("matin", 1),
        ("soir", 1),
        ("weekend", 1),
    ]
    # A list created later does not mail them either.
    assert counts(import_subscribers(db, "nouvelle", people(2))) == (1, 0, 0, 0, 1)


def test_suppress_is_idempotent_keeps_first_reason_and_can_be_lifted(db):
    assert suppress(db, "x@example.com", "bounce", source="sendgrid") is True
    assert suppress(db, "X@EXAMPLE.COM", "spamreport") is False
    with db.read() as conn:
        row = conn.execute(select(t.suppressions)).one()
    assert (row.email_key, row.reason, row.source) == ("x@example.com", "bounce", "sendgrid")
    assert row.created_at.tzinfo == UTC
    with pytest.raises(ValueError):
        suppress(db, "x@example.com", "Not A Reason")
    assert unsuppress(db, "x@example.com") is True
    assert unsuppress(db, "x@example.com") is False
    assert not is_suppressed(db, "x@example.com")


def test_unsuppress_does_not_resubscribe_anyone(db):
    import_subscribers(db, "matin", people(1))
    unsubscribe(db, "user0@example.com")
    unsuppress(db, "user0@example.com")
    assert count_members(db, "matin") == {"active": 0, "unsubscribed": 1, "suppressed": 0}
