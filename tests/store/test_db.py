"""Opening the database: folder creation, pragmas, tables, UTC timestamps, concurrency."""

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_mock_engine, insert, inspect, select
from sqlalchemy.exc import OperationalError

from digest.errors import StoreError
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.subscribers import suppress


def test_creates_parent_folder_file_and_tables(tmp_path):
    path = tmp_path / "a" / "b" / "digest.db"
    db = open_database(f"sqlite:///{path}")
    try:
        assert path.is_file()
        assert set(inspect(db.engine).get_table_names()) == {
            "lists",
            "subscribers",
            "memberships",
            "suppressions",
            "feed_cache",
            "editions",
            "edition_variants",
            "deliveries",
            "events",
            "schedules",
            "scheduler_lease",
            "web_sessions",
            "signup_confirmations",
            "send_workers",
            "send_actions",
            "api_tokens",
            "audit_log",
            "erasures",
            "alembic_version",
        }
    finally:
        db.close()
    # Opening an existing database again is fine (it is at the head revision).
    open_database(f"sqlite:///{path}").close()


@pytest.mark.sqlite_only
def test_sqlite_pragmas_on_every_connection(db):
    for _ in range(2):
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_foreign_keys_are_enforced(db):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with db.write() as conn:
            conn.execute(insert(t.memberships).values(list_id=99, subscriber_id=99))


def test_write_rolls_back_on_error(db):
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            conn.execute(insert(t.lists).values(name="x", title="X"))
            raise RuntimeError("boom")
    with db.read() as conn:
        assert conn.execute(select(t.lists)).all() == []


def test_timestamps_come_back_aware_utc_and_naive_ones_are_refused(db):
    casablanca = timezone(timedelta(hours=1))
    moment = datetime(2025, 7, 1, 7, 30, tzinfo=casablanca)
    with db.write() as conn:
        conn.execute(insert(t.lists).values(name="matin", title="Matin", created_at=moment))
    with db.read() as conn:
        stored = conn.scalar(select(t.lists.c.created_at))
    assert stored == moment and stored.tzinfo == UTC and stored.hour == 6

    with pytest.raises(Exception, match="naive datetime"):
        with db.write() as conn:
            conn.execute(
                insert(t.lists).values(name="soir", title="Soir", created_at=datetime(2025, 7, 1))
            )


def test_bad_url_and_unusable_path_are_store_errors(tmp_path):
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        open_database("not a url")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        open_database(f"sqlite:///{blocker / 'sub' / 'digest.db'}")


def test_schema_compiles_for_postgresql():
    """The same metadata must produce valid PostgreSQL DDL (no SQLite-only constructs)."""
    statements = []
    engine = create_mock_engine(
        "postgresql+psycopg://",
        lambda sql, *a, **k: statements.append(str(sql.compile(dialect=engine.dialect))),
    )
    t.metadata.create_all(engine, checkfirst=False)
    ddl = "\n".join(statements)
    assert "TIMESTAMP WITH TIME ZONE" in ddl and "BYTEA" in ddl
    assert "WITHOUT ROWID" not in ddl
    assert "CONSTRAINT ck_memberships_status CHECK (status IN ('active', 'unsubscribed'))" in ddl


def test_concurrent_writers_wait_instead_of_failing(db):
    """BEGIN IMMEDIATE + busy_timeout: threads writing at once never see 'database is locked'."""
    errors = []

    def work(n):
        try:
            for i in range(25):
                suppress(db, f"t{n}-{i}@example.com", "bounce", source="test")
        except Exception as exc:  # noqa: BLE001 - pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.read() as conn:
        assert len(conn.execute(select(t.suppressions.c.email_key)).all()) == 150


@pytest.mark.sqlite_only
def test_write_takes_the_sqlite_write_lock_up_front(db, tmp_path):
    """write() starts with BEGIN IMMEDIATE; read() does not block writers (WAL)."""
    import sqlite3

    other = sqlite3.connect(tmp_path / "state" / "digest.db", timeout=0, isolation_level=None)
    try:
        with db.read():
            other.execute(
                "INSERT INTO lists (name, title, created_at) "
                "VALUES ('a', 'A', '2025-07-01 00:00:00')"
            )
        with db.write():  # nothing executed yet, but the lock is already held
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute(
                    "INSERT INTO lists (name, title, created_at) "
                    "VALUES ('b', 'B', '2025-07-01 00:00:00')"
                )
        with db.read():  # a pooled connection that wrote before does not stay "immediate"
            other.execute(
                "INSERT INTO lists (name, title, created_at) "
                "VALUES ('c', 'C', '2025-07-01 00:00:00')"
            )
    finally:
        other.close()


@pytest.mark.sqlite_only
def test_writers_of_one_process_wait_their_turn_without_a_connection(db, tmp_path):
    """A second write() of the process waits on the process's lock, not in SQLite's busy
    handler: it takes no pooled connection until the first commits, then writes at once. A
    second Database on the same file shares the lock."""
    from sqlalchemy import event

    other = open_database(f"sqlite:///{tmp_path / 'state' / 'digest.db'}")
    checkouts: list[str] = []
    event.listen(other.engine, "checkout", lambda *a: checkouts.append("other"))
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def first():
        with db.write():
            holding.set()
            release.wait(10)

    def second():
        suppress(other, "second@example.com", "bounce", source="test")
        done.set()

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=second)
    b.start()
    try:
        assert not done.wait(0.5)  # waiting...
        assert checkouts == []  # ...with no connection of its own
    finally:
        release.set()
        a.join(10)
        b.join(10)
    assert done.is_set() and checkouts
    with db.read() as conn:
        assert conn.scalar(select(t.suppressions.c.email_key)) == "second@example.com"
    other.close()


@pytest.mark.sqlite_only
def test_waiting_for_the_process_turn_past_busy_timeout_is_database_is_locked(db, monkeypatch):
    """What SQLite itself answers past its busy timeout, so the sender's outage retry
    (digest/store/outage.py) treats both alike."""
    import digest.store.db as dbmod
    from digest.store.outage import is_outage

    monkeypatch.setattr(dbmod, "SQLITE_BUSY_TIMEOUT_MS", 50)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with db.write():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(OperationalError, match="database is locked") as caught:
            with db.write():
                pass
        assert is_outage(caught.value)
    finally:
        release.set()
        thread.join(10)
    with db.write() as conn:  # the turn is free again
        conn.exec_driver_sql("SELECT 1")


def test_a_postgresql_url_without_driver_means_psycopg(monkeypatch):
    """postgresql:// (and postgres://) use psycopg 3, not SQLAlchemy's default psycopg2; a
    server that is not there is a StoreError naming the URL, without its password."""
    for url in ("postgresql://u:secret@127.0.0.1:1/x", "postgres://u:secret@127.0.0.1:1/x"):
        with pytest.raises(StoreError, match=r"postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:1/x"):
            open_database(url)
