"""Opening the database: one Engine per process, wrapped so callers never build their own.

``Database`` is safe to share between threads: the Engine owns a connection pool and each
``read()`` / ``write()`` block checks out its own connection for the duration of the block.

On SQLite, the writers of one process (the web app's request threads, a sender's loop and its
heartbeat) queue on one lock of the process before they ask SQLite for its write lock, so that
at most one of them at a time waits for SQLite, asking again every 2 ms. SQLite's own busy
handler polls with growing sleeps (up to 100 ms) and serves nobody in order: twenty request
threads polling together starved each other behind a send (some waited seconds, past the
pool's 30 s once), where the lock hands on the turn as soon as it is released
(bench/bench_webwrites.py). Writers of other processes still meet in SQLite (WAL, BEGIN
IMMEDIATE, a wait of up to busy_timeout).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from digest.errors import StoreError
from digest.private_files import create_private_file, make_private_dir
from digest.store.revision import prepare_schema

# How long a SQLite writer waits for another writer before giving up ("database is locked").
# Long enough for a 100k-row import running in another process to finish its transaction.
SQLITE_BUSY_TIMEOUT_MS = 30_000

_WRITE = "digest_write"  # execution option marking a connection whose transaction will write

# How often the writer whose turn it is asks again for the write lock another process holds.
# SQLite's busy handler sleeps longer the longer it has waited (up to 100 ms a time), so a
# writer queued behind a long claim could sleep past several free moments while the rest of
# its process queued behind it; only one writer per process polls, so it can ask often.
_POLL_SECONDS = 0.002

# One lock per SQLite file per process, shared by every Database opened on it (the key is the
# URL's database path, as given).
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


class Database:
    """The engine plus the two ways to use it: ``read()`` and ``write()``."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._writers: threading.Lock | None = None
        if engine.dialect.name == "sqlite":
            with _WRITE_LOCKS_GUARD:
                self._writers = _WRITE_LOCKS.setdefault(
                    engine.url.database or ":memory:", threading.Lock()
                )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a short transaction: one consistent snapshot for the block."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside a transaction, committed if the block ends normally.

        On SQLite the transaction starts with BEGIN IMMEDIATE: it takes the write lock up front,
        so a second writer waits (busy_timeout) instead of failing with "database is locked"
        when a deferred read transaction tries to upgrade to a write. Before that, it waits
        its turn among this process's writers (the module's docstring), holding no pooled
        connection while it waits.
        """
        with self._turn(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def _turn(self):
        """This process's write lock on SQLite (nothing on PostgreSQL, whose writers lock rows)."""
        return _held(self._writers) if self._writers is not None else nullcontext()

    @contextmanager
    def migrating(self) -> Iterator[Connection]:
        """A write transaction for changing the schema (``digest db upgrade``).

        On SQLite, foreign keys are switched off for it: batch migrations rebuild a table by
        copying it and dropping the old one, and with foreign keys on, that DROP would delete
        (ON DELETE CASCADE) every membership and ledger row pointing at it. The pragma only
        takes effect outside a transaction, so it is set before BEGIN, and the keys are
        checked (PRAGMA foreign_key_check) before the transaction commits.
        """
        with self._turn(), self.engine.connect() as conn:
            sqlite = self.dialect == "sqlite"
            if sqlite:
                _driver_execute(conn, "PRAGMA foreign_keys = OFF")
            try:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise StoreError(
                                f"the migration left {len(broken)} rows pointing "
                                f"at nothing (first: {tuple(broken[0])}); nothing "
                                f"was changed"
                            )
            finally:
                if sqlite:
                    _driver_execute(conn, "PRAGMA foreign_keys = ON")

    def close(self) -> None:
        """Close pooled connections. The object must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    """``lock`` for the block. Waiting longer than busy_timeout is what SQLite itself would
    answer: "database is locked" (an outage to digest/store/outage.py, retried by the sender)."""
    if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
        )
    try:
        yield
    finally:
        lock.release()


def _driver_execute(conn: Connection, statement: str) -> None:
    """Run ``statement`` on the driver's connection, past SQLAlchemy's automatic BEGIN."""
    driver = conn.connection.driver_connection
    assert driver is not None  # only a closed or invalidated connection has none
    driver.execute(statement)


def open_database(url: str, *, echo: bool = False, check_schema: bool = True) -> Database:
    """Connect to ``url`` (``sqlite:///abs/path.db`` or ``postgresql+psycopg://...``) and make
    sure the schema is the one this code needs: an empty database gets every table (stamped
    with the head revision); one at another revision raises SchemaRevisionError, a StoreError
    whose sentence says to run ``digest db upgrade``. Raises StoreError with a sentence if the
    database cannot be used.

    ``check_schema=False`` (the ``digest db`` commands) only connects: nothing is created or
    checked, so a database of any revision can be inspected, upgraded, backed up or copied.

    A PostgreSQL URL without a driver (``postgresql://...``, or ``postgres://...`` as some
    hosts hand them out) means psycopg 3, the driver digest is tested with (installed by the
    ``postgres`` extra).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"the database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    is_sqlite = parsed.get_backend_name() == "sqlite"
    is_postgres = parsed.get_backend_name() == "postgresql"
    if is_sqlite:
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                make_private_dir(Path(database).parent)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the database {database}: {exc.strerror or exc}"
                ) from None
            try:
                # Made 0600 before SQLite opens it: SQLite gives the -wal and -shm files it
                # creates the mode of the database file, and all three hold every address.
                create_private_file(database)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the database {database}: {exc.strerror or exc}"
                ) from None

    try:
        engine = create_engine(parsed, echo=echo, pool_pre_ping=not is_sqlite)
    except ImportError as exc:  # no driver, or psycopg without its binary part
        if parsed.drivername == "postgresql+psycopg":
            raise StoreError(
                f"cannot use the database {parsed.render_as_string()}: PostgreSQL "
                "needs the postgres extra: pip install 'digest[postgres]'"
            ) from None
        raise StoreError(
            f"cannot use the database {parsed.render_as_string()}: the driver is "
            f"not installed: {exc}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - unknown dialect, bad arguments...
        raise StoreError(f"cannot use the database {parsed.render_as_string()}: {exc}") from None
    if is_sqlite:
        _configure_sqlite(engine)
    elif is_postgres:
        _configure_postgresql(engine)

    db = Database(engine)
    try:
        # Inside a write transaction: on SQLite two processes starting at once serialise here
        # instead of both seeing "no table" and the second failing with "already exists".
        with db.write() as conn:
            if check_schema:
                prepare_schema(conn)
            else:
                conn.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:  # cannot connect, no such database, no right to create tables...
        engine.dispose()
        raise StoreError(
            f"cannot open the database {parsed.render_as_string()}: {exc.orig}"
        ) from None
    except StoreError:  # the schema is at another revision
        engine.dispose()
        raise
    return db


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas are per connection in SQLite, so they are applied as each one is opened."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take BEGIN away from the sqlite3 module so _on_begin decides DEFERRED vs IMMEDIATE
        # (SQLAlchemy's documented recipe for correct SQLite transactions).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            # SQLite ignores foreign keys unless asked, per connection.
            cursor.execute("PRAGMA foreign_keys = ON")
            # WAL: readers (the web app, a send in progress) do not block the writer or each other.
            # Persistent in the file; harmless to repeat. In-memory databases answer "memory".
            cursor.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL is durable across application crashes (only an OS crash can lose
            # the last commits) and saves an fsync per transaction.
            cursor.execute("PRAGMA synchronous = NORMAL")
            # Deleted rows are zeroed in the file, not left in free space: an erasure on
            # request (digest/store/erasure.py) must leave no copy of the address behind.
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(_WRITE):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")


def _begin_immediate(conn: Connection) -> None:
    """BEGIN IMMEDIATE, asked again every _POLL_SECONDS while another process writes, for up
    to busy_timeout; then SQLite's own "database is locked", as its busy handler would end."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlite_errorcode", 0)  # extended: BUSY_RECOVERY...
                busy = code & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(_POLL_SECONDS)
    finally:  # the other statements of the transaction keep SQLite's own wait
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def _configure_postgresql(engine: Engine) -> None:
    """psycopg 3 prepares a statement on the server after a few executions, and PostgreSQL may
    then switch it to a generic plan chosen once, from the table as it was. A chunked import
    runs the same ``email_key IN (...)`` lookups while its own transaction fills the tables, so
    a plan chosen on an empty table (a sequential scan) made 100k rows take minutes instead of
    seconds. Keep the parse-once savings, but plan each execution for its parameters."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.commit()
