"""digest db copy (SQLite -> PostgreSQL -> SQLite, every table) and digest db backup."""

import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from digest.errors import StoreError
from digest.store import schema as t
from digest.store.api_tokens import create_token
from digest.store.audit import record
from digest.store.backup import backup_sqlite
from digest.store.copy import copy_database
from digest.store.db import open_database
from digest.store.erasure import erase
from digest.store.revision import schema_revision, upgrade_schema
from digest.store.sendactions import record_action
from digest.store.signups import claim_confirmation
from digest.store.subscribers import ensure_list
from digest.store.suppressions import suppress
from digest.store.web_sessions import create_session
from tests.cli.test_cli import digest
from tests.conftest import SAMPLE, SITE_TOML
from tests.store.pre_migration import make_pre_migration


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every table of the metadata, read through digest's own types (aware UTC timestamps)."""
    with open_database(url) as db, db.read() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in t.metadata.sorted_tables
        }


def test_copy_sqlite_to_postgresql_and_back_keeps_every_row(tmp_path, postgres_server):
    source = f"sqlite:///{tmp_path / 'state' / 'digest.db'}"
    make_pre_migration(source)
    with open_database(source, check_schema=False) as db:
        upgrade_schema(db)
        # Tables added after the fixture was written: a row each, so the copy must carry them.
        now = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
        create_session(db, "a" * 64, "amina", now=now, lifetime=timedelta(hours=12))
        assert claim_confirmation(db, "b" * 64, now=now)
        with db.write() as conn:  # a sender's lease row (0005)
            edition = conn.scalar(select(t.editions.c.id).limit(1))
            conn.execute(
                t.send_workers.insert().values(
                    edition_id=edition,
                    owner="host-a:123:cafe",
                    status="done",
                    backend="sendgrid",
                    lease_seconds=90.0,
                    started_at=now,
                    heartbeat_at=now,
                    finished_at=now,
                )
            )
            conn.execute(  # an edition's variant in another locale (0008)
                t.edition_variants.insert().values(
                    edition_id=edition,
                    locale="ar",
                    subject="الأولى",
                    html="<html lang=ar dir=rtl>",
                    text="نص",
                    tokens_json="{}",
                )
            )
        # Send control's audit and an API token (0007).
        record_action(db, edition, "pause", actor="amina", detail="from the web app")
        create_token(db, "dashboard", "read", by="amina")
        record(db, "amina", "erase", target="subscriber:1", detail="on request")
        erase(db, "erased.reader@example.org", source="cli:test")  # an erasure's hash (0011)
    rows = every_row(source)
    assert all(rows[name] for name in rows), "the fixture fills every table"

    site = tmp_path / "digest.toml"
    site.write_text(SITE_TOML.format(locale="fr", sample=SAMPLE, database_url=source), "utf-8")
    name = postgres_server.create()  # has the tables, no rows
    pg = postgres_server.url_for(name)
    try:
        copied = digest("db", "copy", "--to", pg, "--batch-rows", "3", cwd=tmp_path)
        assert "copied" in copied.stdout and "digest:digest@" not in copied.stdout
        assert every_row(pg) == rows

        refused = digest("db", "copy", "--to", pg, cwd=tmp_path, check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "the target database is not empty" in refused.stderr

        back = f"sqlite:///{tmp_path / 'back.db'}"
        digest("db", "copy", "--to", back, cwd=tmp_path, env_extra={"DIGEST_DATABASE_URL": pg})
        assert every_row(back) == rows
        with open_database(back) as db:
            assert schema_revision(db.engine) is not None

        # The sequences moved past the copied ids: new rows get new ids, not id 1 again.
        with open_database(pg) as db:
            assert ensure_list(db, "nouvelle", "Nouvelle")
            with db.read() as conn:
                new_id = conn.scalar(select(t.lists.c.id).where(t.lists.c.name == "nouvelle"))
        assert new_id == max(row[0] for row in rows["lists"]) + 1
    finally:
        postgres_server.drop(name)


def test_copy_refuses_a_target_with_rows_and_a_source_without_tables(tmp_path):
    source = f"sqlite:///{tmp_path / 'a.db'}"
    target = f"sqlite:///{tmp_path / 'b.db'}"
    with open_database(source) as a, open_database(target) as b:
        suppress(b, "x@example.org", "bounce")
        with pytest.raises(StoreError, match=r"not empty \(suppressions hold rows\)"):
            copy_database(a, b)
    nothing = f"sqlite:///{tmp_path / 'nothing.db'}"
    with open_database(nothing, check_schema=False) as a, open_database(target) as b:
        with pytest.raises(StoreError, match=r"^the database is empty \(no digest table\)"):
            copy_database(a, b)


def test_backup_while_another_connection_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    db = open_database(url)
    writer_db = open_database(url)
    started, stop = threading.Event(), threading.Event()
    written = []

    def write():
        n = 0
        while not stop.is_set():
            suppress(writer_db, f"w{n}@example.org", "bounce")
            written.append(n)
            n += 1
            started.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        started.wait(10)
        at_start = len(written)
        dest = backup_sqlite(db, tmp_path / "copy.db")
        at_end = len(written)
    finally:
        stop.set()
        writer.join()
        writer_db.close()
        db.close()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with open_database(f"sqlite:///{dest}") as copy, copy.read() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        kept = conn.exec_driver_sql("SELECT count(*) FROM suppressions").scalar()
    # One consistent snapshot: every row committed before it began, nothing half-written.
    assert at_start <= kept <= at_end + 1
    assert not (tmp_path / "copy.db-wal").exists()
