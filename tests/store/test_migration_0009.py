"""Revision 0009: the audit_log table; send actions recorded by 0008 are read with it."""

from alembic import command
from sqlalchemy import insert

from digest.store import audit, revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.revision import upgrade_schema


def test_0009_adds_the_audit_log_and_reads_older_send_actions_with_it(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0008")
            conn.execute(
                insert(t.send_actions).values(
                    edition_id="m-2026-01-01", action="start", actor="cli:amina", at=t.utcnow()
                )
            )
        upgrade_schema(db)
    with open_database(url) as db:
        audit.record(db, "youssef", "approve", target="m-2026-01-01")
        lines = audit.entries(db)
        assert [(e.actor, e.action, e.target) for e in lines] == [
            ("youssef", "approve", "m-2026-01-01"),
            ("cli:amina", "send:start", "m-2026-01-01"),
        ]
        assert audit.count(db) == 2 and audit.count(db, actor="youssef") == 1
