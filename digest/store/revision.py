"""Schema revisions: which one a database is at, which one this code needs, and upgrading.

Every database records its Alembic revision in ``alembic_version``. Commands open the database
through ``open_database``, which calls ``prepare_schema``: an empty database gets today's tables
and is stamped with the head revision; any other must already be at the head, or the command
stops with one sentence (``SchemaRevisionError``) saying to run ``digest db upgrade``. Only
``upgrade_schema`` changes a schema, and only when asked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect

from digest.errors import StoreError
from digest.store.older import bring_to_baseline
from digest.store.schema import metadata

if TYPE_CHECKING:
    from digest.store.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema of commit 0ec184e, when migrations were introduced
VERSION_TABLE = "alembic_version"
UPGRADE_HINT = "run `digest db upgrade`"


class SchemaRevisionError(StoreError):
    """The database's schema is not the one this digest needs: behind, ahead or unrecognised.

    The CLI exits 2 on it (like a bad config): the fix is an operator's action, not a retry.
    """

    def __init__(self, message: str, *, current: str | None, head: str):
        super().__init__(message)
        self.current = current
        self.head = head


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands. ``state`` is one of:

    current: at this digest's head; behind: at an older revision this digest knows;
    ahead: at a revision this digest does not know (a newer digest wrote it);
    unversioned: digest's tables but no revision (made before migrations existed);
    empty: no digest table at all.
    """

    current: str | None
    head: str
    state: str

    @property
    def up_to_date(self) -> bool:
        return self.state == "current"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the packaged scripts, our connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision this code needs (there is exactly one head: tests/store/test_migrations.py)."""
    head = script_directory().get_current_head()
    assert head is not None  # digest ships its revisions; None would mean an empty versions/
    return head


def schema_revision(bind: Engine | Connection) -> str | None:
    """The revision recorded in the database, or None if it records none."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return schema_revision(conn)
    return MigrationContext.configure(bind).get_current_revision()


def schema_status(bind: Engine | Connection) -> SchemaStatus:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return schema_status(conn)
    head = head_revision()
    tables = set(inspect(bind).get_table_names())
    if VERSION_TABLE not in tables:
        state = "unversioned" if tables & set(metadata.tables) else "empty"
        return SchemaStatus(None, head, state)
    current = MigrationContext.configure(bind).get_current_revision()
    if current is None:  # the table exists but is empty: as good as no revision
        state = "unversioned" if tables & set(metadata.tables) else "empty"
    elif current == head:
        state = "current"
    else:
        try:
            known = script_directory().get_revision(current) is not None
        except CommandError:
            known = False
        state = "behind" if known else "ahead"
    return SchemaStatus(current, head, state)


def refusal(status: SchemaStatus) -> str:
    """The one sentence a command prints when the database is not at the head."""
    if status.state == "unversioned":
        return (
            f"the database is at no revision (it was made before digest had migrations); "
            f"this digest needs {status.head}: {UPGRADE_HINT}"
        )
    if status.state == "empty":
        return (
            f"the database is empty (no digest table); this digest needs {status.head}: "
            f"any command creates the tables, or {UPGRADE_HINT}"
        )
    if status.state == "ahead":
        return (
            f"the database is at revision {status.current}, which this digest does not "
            f"know (a newer digest wrote it); this digest needs {status.head}: use the "
            f"newer digest, or restore the backup made before its upgrade"
        )
    return (
        f"the database is at revision {status.current}; this digest needs {status.head}: "
        f"{UPGRADE_HINT}"
    )


def check_revision(bind: Engine | Connection) -> SchemaStatus:
    """Raise SchemaRevisionError unless the database is at this digest's head."""
    status = schema_status(bind)
    if not status.up_to_date:
        raise SchemaRevisionError(refusal(status), current=status.current, head=status.head)
    return status


def prepare_schema(conn: Connection) -> None:
    """What ``open_database`` does, inside its write transaction: give an empty database
    today's tables stamped with the head, and refuse any database not at the head."""
    status = schema_status(conn)
    if status.state == "empty":
        # create_all, not the migrations: the same schema (a test compares them), in one step.
        metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(script_directory(), "head")
    elif not status.up_to_date:
        raise SchemaRevisionError(refusal(status), current=status.current, head=status.head)


@dataclass(frozen=True)
class Upgraded:
    """What ``upgrade_schema`` did: where the database was, the head it is at now, and the
    repairs made to a database older than the baseline (see digest.store.older)."""

    before: SchemaStatus
    head: str
    repaired: tuple[str, ...] = ()


def upgrade_schema(db: Database) -> Upgraded:
    """Bring the database to the head, in one transaction.

    An empty database runs every migration; one made before migrations is checked against the
    baseline and stamped with it first. A database ahead of this code is refused.
    """
    with db.migrating() as conn:
        status = schema_status(conn)
        if status.state == "ahead":
            raise SchemaRevisionError(refusal(status), current=status.current, head=status.head)
        if status.up_to_date:
            return Upgraded(status, status.head)
        repaired = adopt_unversioned(conn) if status.state == "unversioned" else []
        command.upgrade(alembic_config(conn), "head")
    return Upgraded(status, status.head, tuple(repaired))


def adopt_unversioned(conn: Connection) -> list[str]:
    """Stamp a database made before migrations with the baseline, once it is shown to have the
    baseline's tables and columns. One written by a digest older than the baseline is first
    brought to it (digest.store.older); returns what that changed. Anything else is refused."""
    done = bring_to_baseline(conn, script_directory().get_revision(BASELINE).module)
    expected = baseline_columns()
    found = inspect(conn)
    tables = set(found.get_table_names())
    missing = []
    for table, columns in expected.items():
        if table not in tables:
            missing.append(f"table {table}")
            continue
        have = {c["name"] for c in found.get_columns(table)}
        missing += [f"{table}.{c}" for c in sorted(columns - have)]
    if missing:
        raise StoreError(
            f"the database has some of digest's tables but not the schema migrations start "
            f"from (missing {', '.join(missing)}), and is not one an earlier digest wrote; "
            f"nothing was changed"
        )
    MigrationContext.configure(conn).stamp(script_directory(), BASELINE)
    return done


@functools.cache
def baseline_columns() -> dict[str, frozenset[str]]:
    """{table: columns} as the baseline revision creates them, read by running it on an
    in-memory SQLite database (so the check can never drift from the migration itself)."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            found = inspect(conn)
            return {
                t: frozenset(c["name"] for c in found.get_columns(t))
                for t in found.get_table_names()
                if t != VERSION_TABLE
            }
    finally:
        engine.dispose()
