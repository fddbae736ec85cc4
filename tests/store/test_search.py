"""Finding subscribers among 100,000: the database does the work, one bounded page at a time."""

import pytest
from sqlalchemy import event, insert, select

from digest.store import schema as t
from digest.store.erasure import erase
from digest.store.search import COUNT_CAP, search_subscribers, suppressions_page
from digest.store.subscribers import ensure_list, suppress

N = 100_000


def many(db, n=N):
    """n subscribers in one executemany (no CSV, no import: this test is about reading)."""
    now = t.utcnow()
    ensure_list(db, "matinale")
    with db.write() as conn:
        list_id = conn.scalar(select(t.lists.c.id))
        conn.execute(
            insert(t.subscribers),
            [
                {
                    "email": f"reader{i}@example.com",
                    "email_key": f"reader{i}@example.com",
                    "name": f"Reader {i}",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
        ids = conn.scalars(select(t.subscribers.c.id).where(t.subscribers.c.id % 2 == 0))
        conn.execute(
            insert(t.memberships),
            [
                {
                    "list_id": list_id,
                    "subscriber_id": i,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in ids
            ],
        )


@pytest.fixture
def statements(db):
    seen = []

    def remember(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    yield seen
    event.remove(db.engine, "before_cursor_execute", remember)


def test_an_address_prefix_finds_the_one_reader_with_a_bounded_query(db, statements):
    many(db)
    statements.clear()
    page = search_subscribers(db, "Reader77777@")
    assert [r.email for r in page.rows] == ["reader77777@example.com"]
    assert page.count == 1 and page.next_after is None
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects and all("LIMIT" in s.upper() for s in selects)


@pytest.mark.sqlite_only
def test_the_prefix_search_reads_the_email_key_index(tmp_path):
    from digest.store.db import open_database
    from digest.store.search import _prefix_range

    with open_database(f"sqlite:///{tmp_path / 'state' / 'd.db'}") as db, db.read() as conn:
        s = t.subscribers
        stmt = select(s.c.id).where(_prefix_range(s.c.email_key, "reader7@")).limit(51)
        sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "SEARCH subscribers USING" in plan and "INDEX" in plan, plan
    assert "email_key>? AND email_key<?" in plan, plan


def test_a_name_a_list_and_pages(db):
    many(db, 2_000)
    page = search_subscribers(db, "reader 19")  # names "Reader 19", "Reader 190"...: 111 of them
    assert page.count == 111 and len(page.rows) == 50 and page.next_after
    seen = {r.email for r in page.rows}
    while page.next_after:
        page = search_subscribers(db, "reader 19", after=page.next_after)
        assert not seen & {r.email for r in page.rows}
        seen |= {r.email for r in page.rows}
    assert len(seen) == 111
    on_list = search_subscribers(db, "", list_name="matinale")
    assert on_list.count == 1000 and all(r.id % 2 == 0 for r in on_list.rows)
    everyone = search_subscribers(db)
    assert everyone.count == COUNT_CAP and everyone.capped
    by_address = search_subscribers(db, "reader1@")  # prefix: reader1@, not reader10@...
    assert [r.email for r in by_address.rows] == ["reader1@example.com"]
    assert search_subscribers(db, "100%_x").rows == []  # LIKE's wildcards are literal


def test_suppressions_then_erasures_in_pages(db):
    for i in range(60):
        suppress(db, f"b{i}@example.com", "bounce", "sendgrid-webhook")
    erase(db, "gone@example.com", source="web:amina")
    first = suppressions_page(db)
    assert len(first.rows) == 50 and first.count == 61
    second = suppressions_page(db, after=first.next_after)
    assert [r.email_key is None for r in second.rows] == [False] * 10 + [True]
    assert second.rows[-1].reason == "erased" and second.next_after is None
    keys = {r.key for r in first.rows} | {r.key for r in second.rows}
    assert len(keys) == 61


def test_odd_queries_are_just_no_match(db):
    many(db, 10)
    for q in ("\U0010ffff", "a@\U0010ffff", "%", "_@", "'; DROP TABLE subscribers; --"):
        assert search_subscribers(db, q).rows == [], q
    assert search_subscribers(db, "", after="not-a-number").count == 10
