"""A claim records the previous batch's answers in its own transaction, and ids go to the
database as one value (issue 12), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select, text, update

from digest.edition.build import edition_for_send
from digest.store import claims, ledger, plans
from digest.store import schema as t
from digest.store.answers import MAX_RANGES, among, id_ranges
from digest.store.csvio import read_subscriber_csv
from digest.store.sendactions import request_pause
from digest.store.subscribers import import_subscribers
from digest.store.suppressions import suppress
from tests.conftest import SAMPLE_NOW


def _statuses(db, edition_id):
    d = t.deliveries
    with db.read() as conn:
        return dict(
            conn.execute(select(d.c.id, d.c.status).where(d.c.edition_id == edition_id)).all()
        )


def test_a_claim_records_the_answers_it_is_given_then_claims_the_next_rows(config, db):
    body = "email,name\n" + "".join(f"r{i:04d}@example.com,R {i}\n" for i in range(2500))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))
    suppress(db, "r0004@example.com", "bounce")
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    ledger.populate(db, stored.id, stored.list_id)

    first = ledger.claim_batch(db, stored.id, stored.list_id, after=0, limit=1200, owner="w")
    assert (len(first.claimed), first.skipped) == (1199, 1)  # more ids than any IN (...) list
    sent = [c.delivery_id for c in first.claimed[:-2]]
    failed, retry = first.claimed[-2].delivery_id, first.claimed[-1].delivery_id
    answers = [(i, "sent", "msg-1") for i in sent]
    answers += [(failed, "failed", "550 no such user"), (retry, "pending", None)]

    second = ledger.claim_batch(
        db, stored.id, stored.list_id, after=first.last_id, limit=1200, owner="w", answers=answers
    )

    status = _statuses(db, stored.id)
    assert all(status[i] == "sent" for i in sent)
    assert (status[failed], status[retry]) == ("failed", "pending")
    assert [c.delivery_id for c in second.claimed] == sorted(
        i for i, s in status.items() if s == "sending"
    )
    assert len(second.claimed) == 1200 and second.claimed[0].delivery_id > first.last_id
    assert sorted(s for s in status.values() if s == "skipped") == ["skipped"]

    # The last answers come with a claim that finds nothing left: still recorded.
    third = ledger.claim_batch(
        db,
        stored.id,
        stored.list_id,
        after=second.last_id,
        limit=1200,
        owner="w",
        answers=[(c.delivery_id, "sent", "msg-2") for c in second.claimed],
    )
    fourth = ledger.claim_batch(
        db,
        stored.id,
        stored.list_id,
        after=third.last_id,
        limit=1200,
        owner="w",
        answers=[(c.delivery_id, "sent", "msg-3") for c in third.claimed],
    )
    assert fourth.last_id is None and fourth.claimed == []
    counts = ledger.counts(db, stored.id)
    assert (counts["sent"], counts["failed"], counts["pending"], counts["sending"]) == (
        2497,
        1,
        1,
        0,
    )


@pytest.mark.parametrize(
    "ids, ranges",
    [
        ([5], [(5, 5)]),
        (list(range(1, 2 * MAX_RANGES, 2)), [(i, i) for i in range(1, 2 * MAX_RANGES, 2)]),
        (list(range(10, 1010)), [(10, 1009)]),  # a whole batch: one BETWEEN
        ([3, 1, 2, 7, 8, 20], [(1, 3), (7, 8), (20, 20)]),  # unordered, with gaps
        ([4, 4, 5, 6], [(4, 6)]),  # a repeated id takes no second range
        ([1, 1, 3], [(1, 1), (3, 3)]),  # span == count, yet 2 is not among them
        (list(range(1, 2 * MAX_RANGES + 2, 2)), None),  # a run too many: one value instead
        ([], None),
    ],
)
def test_ids_go_as_few_ranges_each_holding_only_given_ids(ids, ranges):
    assert id_ranges(ids) == ranges


@pytest.mark.parametrize(
    "pick",
    [
        lambda ids: ids[3:803],  # one run
        lambda ids: ids[:50] + ids[60:70] + ids[900:],  # three runs
        lambda ids: ids[::2],  # 500 runs: the one-value form
        lambda ids: ids[::-3] + ids[1:4],  # unordered and repeated
    ],
)
def test_an_update_among_ids_touches_exactly_those_rows(config, db, pick):
    """Through the database (SQLite, PostgreSQL): the ranges or the one value select exactly
    the ids given, never a row between two ranges."""
    body = "email,name\n" + "".join(f"r{i:04d}@example.com,R {i}\n" for i in range(1000))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    ledger.populate(db, stored.id, stored.list_id)
    everyone = sorted(_statuses(db, stored.id))
    chosen = pick(everyone)
    d = t.deliveries
    with db.write() as conn:
        changed = conn.execute(
            update(d).where(among(conn, d.c.id, chosen)).values(status="cancelled"),
            execution_options={"preserve_rowcount": True},
        ).rowcount
    status = _statuses(db, stored.id)
    assert changed == len(set(chosen))
    assert {i for i, s in status.items() if s == "cancelled"} == set(chosen)


SETTINGS = (
    "enable_hashjoin",
    "enable_mergejoin",
    "enable_seqscan",
    "max_parallel_workers_per_gather",
)


def test_on_postgresql_an_editions_rows_are_read_by_index_in_their_transaction_only(config, db):
    """A batch is LIMIT rows and counts are one edition's of a ledger of many: index lookups
    and scans, whatever the statistics say (made to favour a parallel scan of the whole table
    here); the setting is the transaction's (SET LOCAL), so nothing else on that pooled
    connection plans so."""
    if db.dialect != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    body = "email,name\n" + "".join(f"r{i:04d}@example.com,R {i}\n" for i in range(300))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    ledger.populate(db, stored.id, stored.list_id)
    batch = claims.batch_query(db.dialect, stored.id, stored.list_id, after=0, limit=100)
    d = t.deliveries
    count = select(d.c.status, func.count()).where(d.c.edition_id == stored.id)
    count = count.group_by(d.c.status)
    with db.engine.connect() as conn:
        with conn.begin():
            # What a ledger of many editions makes the planner think: scans are cheap.
            conn.execute(text("SET LOCAL parallel_setup_cost = 0"))
            conn.execute(text("SET LOCAL parallel_tuple_cost = 0"))
            conn.execute(text("SET LOCAL min_parallel_table_scan_size = 0"))
            plans.by_index(conn)
            shown = [conn.scalar(text(f"SHOW {k}")) for k in SETTINGS]
            explained = []
            for stmt in (batch, count):
                compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
                explained.append("\n".join(conn.scalars(text(f"EXPLAIN {compiled}"))))
        with conn.begin():
            after = [conn.scalar(text(f"SHOW {k}")) for k in SETTINGS]
    assert shown == ["off", "off", "off", "0"] and after == ["on", "on", "on", "2"]
    batch_plan, count_plan = explained
    assert "Nested Loop" in batch_plan and "Hash Join" not in batch_plan
    assert "Merge Join" not in batch_plan
    assert "ix_deliveries_edition_id" in count_plan
    assert "Seq Scan" not in count_plan and "Parallel" not in count_plan


def test_a_claim_that_finds_a_stop_request_writes_the_answers_and_claims_nothing(config, db):
    """The loop asks whether to stop inside each claim's transaction: the batch before is
    recorded, no further row becomes 'sending', and the claim says why it took nothing."""
    body = "email,name\n" + "".join(f"r{i:04d}@example.com,R {i}\n" for i in range(30))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    ledger.populate(db, stored.id, stored.list_id)
    with db.write() as conn:
        conn.execute(
            update(t.editions).where(t.editions.c.id == stored.id).values(status="sending")
        )
    first = ledger.claim_batch(db, stored.id, stored.list_id, after=0, limit=10, owner="w")
    request_pause(db, stored.id, by="editor@example.ma")
    seen = claims.peek(db, stored.id, stored.list_id, after=first.last_id, limit=10)
    answers = [(c.delivery_id, "sent", "msg-1") for c in first.claimed]

    by_id = claims.claim_read(db, stored.id, seen, owner="w", answers=answers[:5])
    next_rows = ledger.claim_batch(
        db, stored.id, stored.list_id, after=first.last_id, limit=10, owner="w",
        answers=answers[5:],
    )  # fmt: skip

    assert by_id.stop == next_rows.stop == "paused by editor@example.ma"
    assert by_id.claimed == next_rows.claimed == []
    counts = ledger.counts(db, stored.id)
    assert (counts["sent"], counts["sending"], counts["pending"]) == (10, 0, 20)
    with db.write() as conn:
        conn.execute(
            update(t.editions).where(t.editions.c.id == stored.id).values(status="cancelled")
        )
    assert claims.claim_read(db, stored.id, seen, owner="w").stop == "cancelled"
