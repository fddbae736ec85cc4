"""Revision 0007: send_actions and api_tokens (new, empty), the editions' pause request and the
schedules' unapproved rule ('skip' for existing rows); every row written by 0006 kept."""

from alembic import command
from sqlalchemy import func, insert, select, text

from digest.store import revision
from digest.store import schema as t
from digest.store.api_tokens import check_token, create_token
from digest.store.db import open_database
from digest.store.revision import upgrade_schema
from digest.store.schedules import get_schedule
from digest.store.sendactions import list_actions, record_action, stop_request


def test_0007_adds_send_control_and_tokens_and_keeps_every_row(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0006")  # 0007 is written on it
            now = t.utcnow()
            conn.execute(insert(t.lists).values(id=1, name="m", title="M", created_at=now))
            # Plain SQL: Core would add the columns 0007 brings, which 0006 lacks.
            conn.execute(
                text(
                    "INSERT INTO editions (id, list_id, status, needs_approval, subject, "
                    "edition_json, html, text, tokens_json, created_at) VALUES "
                    "('m-2026-01-01', 1, 'sending', :no, 's', '{}', 'h', 't', '{}', :now)"
                ),
                {"no": False, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO schedules (name, list_name, cron, timezone, approval, "
                    "if_nothing_new, min_stories, backend, paused, local_time, created_at, "
                    "updated_at) VALUES ('morning', 'm', '0 7 * * *', 'Africa/Casablanca', "
                    "'required', 'skip', 1, 'outbox', :no, :no, :now, :now)"
                ),
                {"no": False, "now": now},
            )
        upgrade_schema(db)
    with open_database(url) as db:
        s = get_schedule(db, "morning")
        assert s.if_unapproved == "skip" and s.unapproved_wait is None and s.approval == "required"
        assert stop_request(db, "m-2026-01-01") is None  # no pause asked for
        with db.read() as conn:
            assert conn.scalar(select(func.count()).select_from(t.editions)) == 1
            assert conn.scalar(select(func.count()).select_from(t.send_actions)) == 0
        record_action(db, "m-2026-01-01", "pause", actor="amina")
        assert [a.action for a in list_actions(db, "m-2026-01-01")] == ["pause"]
        token = create_token(db, "bot", "read", by="amina")
        assert check_token(db, token).name == "bot"
