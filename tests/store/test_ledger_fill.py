"""The ledger fill leaves the planner statistics a first send needs (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from digest.edition.build import edition_for_send
from digest.store import ledger
from digest.store.csvio import read_subscriber_csv
from digest.store.subscribers import import_subscribers
from tests.conftest import SAMPLE_NOW


def test_the_fill_gives_the_new_rows_statistics(config, db):
    body = "email,name\n" + "".join(f"r{i:04d}@example.com,R {i}\n" for i in range(300))
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode()))
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )

    assert ledger.populate(db, stored.id, stored.list_id) == 300
    assert ledger.populate(db, stored.id, stored.list_id) == 0  # rows that exist are left alone
    assert ledger.counts(db, stored.id)["pending"] == 300
    if db.dialect == "postgresql":
        with db.read() as conn:
            # Set by ANALYZE (a new table has -1: never analyzed); autovacuum waits far longer.
            tuples = conn.scalar(
                text("SELECT reltuples FROM pg_class WHERE relname = 'deliveries'")
            )
            stats = conn.scalar(
                text("SELECT count(*) FROM pg_stats WHERE tablename = 'deliveries'")
            )
        assert tuples == 300 and stats > 0
