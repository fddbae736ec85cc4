"""Revision 0011: the erasures table, and a ledger whose rows may outlive their reader; a 0010
database keeps its ledger rows through the upgrade."""

from alembic import command
from sqlalchemy import insert, inspect, select

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.erasure import erase
from digest.store.revision import upgrade_schema


def test_0011_upgrades_a_0010_database_and_keeps_its_ledger(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0010")
            now = t.utcnow()
            conn.execute(insert(t.lists).values(id=1, name="m", title="M", created_at=now))
            conn.execute(
                insert(t.subscribers).values(
                    id=1, email="a@example.org", email_key="a@example.org", created_at=now
                )
            )
            conn.execute(
                insert(t.editions).values(
                    id="m-1",
                    list_id=1,
                    status="sent",
                    needs_approval=False,
                    subject="s",
                    edition_json="{}",
                    html="h",
                    text="t",
                    tokens_json="{}",
                    created_at=now,
                )
            )
            conn.execute(
                insert(t.deliveries).values(
                    edition_id="m-1", subscriber_id=1, status="sent", updated_at=now
                )
            )
            assert "erasures" not in inspect(conn).get_table_names()
        upgrade_schema(db)
    with open_database(url) as db:
        with db.read() as conn:
            assert conn.scalar(select(t.deliveries.c.status)) == "sent"
        erase(db, "A@example.org")
        with db.read() as conn:
            row = conn.execute(select(t.deliveries)).one()
            assert row.subscriber_id is None and row.status == "sent"
            assert conn.scalar(select(t.erasures.c.key_hash))
