"""Revision 0013: the ledger loses its foreign keys; a 0012 database keeps its ledger rows, and
the erasure that relied on nothing of them still unlinks a reader's rows."""

from alembic import command
from sqlalchemy import insert, inspect, select

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.erasure import erase
from digest.store.revision import upgrade_schema


def keys(conn) -> set[str]:
    return {fk["referred_table"] for fk in inspect(conn).get_foreign_keys("deliveries")}


def test_0013_upgrades_a_0012_database_and_keeps_its_ledger(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0012")
            assert keys(conn) == {"editions", "subscribers"}
            now = t.utcnow()
            conn.execute(insert(t.lists).values(id=1, name="m", title="M", created_at=now))
            for i, email in ((1, "a@example.org"), (2, "b@example.org")):
                conn.execute(
                    insert(t.subscribers).values(id=i, email=email, email_key=email, created_at=now)
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
            for sid, status in ((1, "sent"), (2, "failed")):
                conn.execute(
                    insert(t.deliveries).values(
                        edition_id="m-1", subscriber_id=sid, status=status, updated_at=now
                    )
                )
        upgrade_schema(db)
    with open_database(url) as db:
        with db.read() as conn:
            assert keys(conn) == set()
            rows = conn.execute(
                select(t.deliveries.c.subscriber_id, t.deliveries.c.status).order_by(
                    t.deliveries.c.subscriber_id
                )
            ).all()
            assert [tuple(r) for r in rows] == [(1, "sent"), (2, "failed")]
            assert {i["name"] for i in inspect(conn).get_indexes("deliveries")} >= {
                "ix_deliveries_edition_id"
            }
        erase(db, "A@example.org")
        with db.read() as conn:
            rows = conn.execute(
                select(t.deliveries.c.subscriber_id, t.deliveries.c.status).order_by(
                    t.deliveries.c.id
                )
            ).all()
            assert [tuple(r) for r in rows] == [(None, "sent"), (2, "failed")]
            assert conn.scalar(select(t.subscribers.c.id).where(t.subscribers.c.id == 1)) is None


def test_0013_goes_back_to_0012_with_the_keys(url):
    with open_database(url, check_schema=False) as db:
        upgrade_schema(db)
        with db.migrating() as conn:
            command.downgrade(revision.alembic_config(conn), "0012")
            assert keys(conn) == {"editions", "subscribers"}
