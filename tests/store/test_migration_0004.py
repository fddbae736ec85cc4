"""Revision 0004: 'cancelled' allowed by both status CHECKs, deliveries.requeued_from; rows kept."""

import pytest
from alembic import command
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.revision import upgrade_schema


def test_0004_allows_cancelled_and_keeps_every_row(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0003")
            # Core inserts name only the columns given (and those with defaults): no
            # requeued_from, which 0003 does not have.
            now = t.utcnow()
            conn.execute(insert(t.lists).values(id=1, name="m", title="M", created_at=now))
            for i in (1, 2):
                conn.execute(
                    insert(t.subscribers).values(
                        id=i,
                        email=f"r{i}@example.com",
                        email_key=f"r{i}@example.com",
                        created_at=now,
                        updated_at=now,
                    )
                )
            conn.execute(
                insert(t.editions).values(
                    id="m-2026-01-01",
                    list_id=1,
                    status="paused",
                    needs_approval=False,
                    subject="s",
                    edition_json="{}",
                    html="h",
                    text="t",
                    tokens_json="{}",
                    created_at=now,
                )
            )
            for i, status in ((1, "sent"), (2, "pending")):
                conn.execute(
                    insert(t.deliveries).values(
                        edition_id="m-2026-01-01",
                        subscriber_id=i,
                        status=status,
                        attempts=0,
                        updated_at=now,
                    )
                )
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(
                    update(t.deliveries)
                    .where(t.deliveries.c.subscriber_id == 2)
                    .values(status="cancelled")
                )
        upgrade_schema(db)
    with open_database(url) as db, db.write() as conn:
        assert conn.scalar(select(func.count()).select_from(t.deliveries)) == 2
        conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.subscriber_id == 2)
            .values(status="cancelled", requeued_from="failed")
        )
        conn.execute(update(t.editions).values(status="cancelled"))
        assert conn.scalar(select(t.editions.c.status)) == "cancelled"
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(
                insert(t.deliveries).values(
                    edition_id="m-2026-01-01", subscriber_id=1, status="bogus", attempts=0
                )
            )
