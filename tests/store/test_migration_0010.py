"""Revision 0010: on PostgreSQL the ledger's fillfactor is 45, whether the database was
upgraded from 0009 or made new; SQLite is unchanged (and keeps its rows)."""

import pytest
from alembic import command
from sqlalchemy import insert, select, text

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.revision import upgrade_schema


def fillfactor(db) -> str | None:
    with db.read() as conn:
        options = conn.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'deliveries'"))
    return next((o.split("=")[1] for o in options or () if o.startswith("fillfactor=")), None)


def test_0010_upgrades_a_0009_database_and_keeps_its_ledger(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0009")
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
            if db.engine.dialect.name == "postgresql":
                assert fillfactor(db) is None
        upgrade_schema(db)
    with open_database(url) as db:
        with db.read() as conn:
            assert conn.scalar(select(t.deliveries.c.status)) == "sent"
        if db.engine.dialect.name == "postgresql":
            assert fillfactor(db) == "45"


def test_a_new_postgresql_database_has_it_too(url):
    if not url.startswith("postgresql"):
        pytest.skip("a PostgreSQL storage parameter")
    with open_database(url) as db:
        assert fillfactor(db) == "45"
