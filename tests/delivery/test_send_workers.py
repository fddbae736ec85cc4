"""Senders' leases and shared claims (issue 11, item 3), on a real SQLite file and PostgreSQL:
claim_batch never hands one row to two claimers, the lease is renewed while the sender waits,
SQLite refuses a second sender in one sentence, PostgreSQL lets workers share an edition, and a
dead worker's rows in flight (only those) become unknown."""

import socket
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from digest.store import ledger, workers
from digest.store import schema as t
from digest.store.editions import EditionBusy, new_owner
from digest.store.schema import utcnow
from tests.delivery.test_send_loop import SIGNER, Scripted, config, stored, subscribe  # noqa: F401

LEASE = 0.6  # seconds: a beat every 0.1 s


def test_concurrent_claims_never_share_a_row(config, db):  # noqa: F811 - the fixture of the same name, imported above
    """Before: on PostgreSQL two threads claimed the same rows 13,000 and 17,700 times out of
    20,000. Now each row goes to exactly one claimer (FOR UPDATE SKIP LOCKED)."""
    subscribe(db, 600)
    edition = stored(config, db)
    ledger.populate(db, edition.id, edition.list_id)
    got: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def claimer(i):
        start.wait()
        after = 0
        while True:
            batch = ledger.claim_batch(
                db, edition.id, edition.list_id, after=after, limit=7, owner=f"w{i}"
            )
            if batch.last_id is None:
                return
            after = batch.last_id
            got[i].extend(c.delivery_id for c in batch.claimed)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    every = [d for mine in got for d in mine]
    assert len(every) == 600 and len(set(every)) == 600
    with db.read() as conn:
        owners = dict(conn.execute(select(t.deliveries.c.id, t.deliveries.c.worker)).all())
    assert all(owners[d] == f"w{i}" for i, mine in enumerate(got) for d in mine)


def test_the_lease_is_renewed_while_the_sender_waits(site, db):
    """Before: renewed once per batch, stale after 90 s; a Retry-After longer than that let a
    second sender in. Here the lease is 0.6 s and the backend holds its batch for 2 s."""
    from digest.config import load_config
    from digest.delivery.loop import deliver

    site.write_text(
        site.read_text().replace("batch_size = 10\n", f"batch_size = 10\nlease_seconds = {LEASE}\n")
    )
    config = load_config(site, env={})  # noqa: F811 - the fixture of the same name, imported above
    subscribe(db, 20)
    edition = stored(config, db)
    holding, release = threading.Event(), threading.Event()

    def slow(n, batch):
        if n == 1:
            holding.set()
            release.wait(10)

    first = Scripted(on_call=slow)
    result = {}
    th = threading.Thread(
        target=lambda: result.update(r=deliver(config, db, edition, first, signer=SIGNER))
    )
    th.start()
    assert holding.wait(10)
    time.sleep(LEASE * 3)  # three leases without a batch answered
    with pytest.raises(EditionBusy) as refused:
        deliver(config, db, stored(config, db), Scripted(), signer=SIGNER)
    release.set()
    th.join(10)
    if db.dialect == "sqlite":
        assert "SQLite: one sender per edition; use PostgreSQL for several" in str(refused.value)
    else:
        assert "--join" in str(refused.value)
    assert (result["r"].status, result["r"].sent) == ("sent", 20)
    assert Counter(first.delivered) == Counter(f"reader{i:03d}@example.com" for i in range(20))


def test_sqlite_refuses_a_second_worker_even_with_join(config, db):  # noqa: F811 - the fixture of the same name, imported above
    subscribe(db, 5)
    edition = stored(config, db)
    me = f"{socket.gethostname()}:{__import__('os').getpid()}:first"
    workers.join(db, edition.id, me, backend="scripted", lease_seconds=60, share=True)
    if db.dialect == "sqlite":
        with pytest.raises(
            EditionBusy, match="SQLite: one sender per edition; use PostgreSQL for several"
        ):
            workers.join(
                db, edition.id, new_owner(), backend="scripted", lease_seconds=60, share=True
            )
    else:
        joined = workers.join(
            db, edition.id, new_owner(), backend="scripted", lease_seconds=60, share=True
        )
        assert (joined.first, joined.others) == (False, 1)


def test_a_dead_workers_rows_in_flight_become_unknown_and_only_those(config, db):  # noqa: F811 - the fixture of the same name, imported above
    if db.dialect == "sqlite":
        pytest.skip("several workers share an edition on PostgreSQL only")
    subscribe(db, 30)
    edition = stored(config, db)
    remote = "other-machine:4242:dead"  # another host: only its lease's age can say it died
    alive = f"{socket.gethostname()}:{__import__('os').getpid()}:alive"
    workers.join(
        db,
        edition.id,
        remote,
        backend="scripted",
        lease_seconds=5,
        on_first=lambda conn, prev: ledger.populate_rows(conn, edition.id, edition.list_id),
    )
    workers.join(db, edition.id, alive, backend="scripted", lease_seconds=5, share=True)
    theirs = ledger.claim_batch(db, edition.id, edition.list_id, after=0, limit=10, owner=remote)
    mine = ledger.claim_batch(db, edition.id, edition.list_id, after=0, limit=10, owner=alive)
    assert not {c.delivery_id for c in theirs.claimed} & {c.delivery_id for c in mine.claimed}

    with db.write() as conn:  # within its lease: alive, nothing changes
        assert workers.reap(conn, edition.id, keep={alive}, now=utcnow()) == 0
    with db.write() as conn:  # its lease ran out (5 s without a beat); mine was renewed
        later = utcnow() + timedelta(seconds=6)
        workers.touch(conn, edition.id, alive, later)
        assert workers.reap(conn, edition.id, keep={alive}, now=later) == 10
    c = ledger.counts(db, edition.id)
    assert (c["unknown"], c["sending"], c["pending"]) == (10, 10, 10)
    status = {w.owner: w.status for w in workers.list_workers(db, edition.id)}
    assert status == {remote: "dead", alive: "active"}
    with db.write() as conn:
        conn.execute(
            update(t.deliveries).where(t.deliveries.c.status != "unknown").values(status="sent")
        )
    assert workers.leave(db, edition.id, alive, status="sent") is True
    with db.read() as conn:
        assert conn.scalar(select(t.editions.c.status)) == "sent"
