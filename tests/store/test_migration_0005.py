"""Revision 0005: send_workers (a lease row per sender) and deliveries.worker; rows kept."""

import pytest
from alembic import command
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.revision import upgrade_schema


def test_0005_adds_send_workers_and_keeps_every_row(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0004")
            # Core inserts name only the columns given (and those with defaults): no worker,
            # which 0004 does not have.
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
            for i, status in ((1, "sent"), (2, "sending")):
                conn.execute(
                    insert(t.deliveries).values(
                        edition_id="m-2026-01-01",
                        subscriber_id=i,
                        status=status,
                        attempts=1,
                        updated_at=now,
                    )
                )
        upgrade_schema(db)
    with open_database(url) as db, db.write() as conn:
        rows = conn.execute(
            select(t.deliveries.c.status, t.deliveries.c.worker).order_by(t.deliveries.c.id)
        ).all()
        assert [tuple(r) for r in rows] == [("sent", None), ("sending", None)]
        conn.execute(
            insert(t.send_workers).values(
                edition_id="m-2026-01-01",
                owner="h:1:a",
                status="active",
                lease_seconds=90.0,
                started_at=now,
                heartbeat_at=now,
            )
        )
        conn.execute(update(t.deliveries).values(worker="h:1:a"))
        assert conn.scalar(select(func.count()).select_from(t.send_workers)) == 1
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(
                insert(t.send_workers).values(
                    edition_id="m-2026-01-01",
                    owner="h:2:b",
                    status="bogus",
                    lease_seconds=1.0,
                    started_at=now,
                    heartbeat_at=now,
                )
            )
