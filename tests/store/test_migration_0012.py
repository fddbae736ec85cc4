"""Revision 0012: ``events`` gains ``url`` and ``machine``; the events stored before keep their
counts (both unknown for them), and new ones store both."""

from alembic import command
from sqlalchemy import insert, inspect, select

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.events import record_event
from digest.store.revision import upgrade_schema


def test_0012_upgrades_a_0011_database_and_keeps_its_events(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0011")
            assert "url" not in {c["name"] for c in inspect(conn).get_columns("events")}
            # Only the columns 0011 has: url and machine have no default, so none is sent.
            conn.execute(
                insert(t.events).values(
                    sg_event_id="old", kind="click", edition_id="m-1", received_at=t.utcnow()
                )
            )
        upgrade_schema(db)
    with open_database(url) as db:
        assert record_event(
            db,
            sg_event_id="new",
            kind="open",
            edition_id="m-1",
            delivery_id=1,
            occurred_at=None,
            url=None,
            machine=True,
        )
        with db.read() as conn:
            rows = conn.execute(
                select(t.events.c.sg_event_id, t.events.c.url, t.events.c.machine).order_by(
                    t.events.c.sg_event_id
                )
            ).all()
    assert rows == [("new", None, True), ("old", None, None)]
