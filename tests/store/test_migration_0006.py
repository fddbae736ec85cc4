"""Revision 0006: schedules.local_time (false for existing rows) and deadline; the editions'
deadline columns; every row written by the previous revision kept."""

from alembic import command
from sqlalchemy import func, insert, select, text, update

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.revision import upgrade_schema
from digest.store.schedules import get_schedule


def test_0006_adds_local_time_and_deadlines_and_keeps_every_row(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0004")  # 0006 is written on it
            now = t.utcnow()
            conn.execute(insert(t.lists).values(id=1, name="m", title="M", created_at=now))
            conn.execute(
                insert(t.editions).values(
                    id="m-2026-01-01",
                    list_id=1,
                    status="sent",
                    needs_approval=False,
                    subject="s",
                    edition_json="{}",
                    html="h",
                    text="t",
                    tokens_json="{}",
                    created_at=now,
                    finished_at=now,
                )
            )
            # Plain SQL: Core would add local_time (it has a default), which 0004 lacks.
            conn.execute(
                text(
                    "INSERT INTO schedules (name, list_name, cron, timezone, approval, "
                    "if_nothing_new, min_stories, backend, paused, created_at, updated_at) VALUES "
                    "('morning', 'm', '0 7 * * *', 'Africa/Casablanca', 'auto', 'skip', 1, "
                    "'outbox', :no, :now, :now)"
                ),
                {"no": False, "now": now},
            )
        upgrade_schema(db)
    with open_database(url) as db:
        s = get_schedule(db, "morning")
        assert s.local_time is False and s.deadline is None and s.cron == "0 7 * * *"
        with db.write() as conn:
            assert conn.scalar(select(func.count()).select_from(t.editions)) == 1
            row = conn.execute(select(t.editions)).one()
            assert row.status == "sent" and row.deadline_at is None and row.send_rate is None
            conn.execute(
                update(t.editions).values(deadline_at=now, send_rate=812.5, deadline_missed="late")
            )
            conn.execute(update(t.schedules).values(local_time=True, deadline="07:30"))
        assert get_schedule(db, "morning").local_time is True
