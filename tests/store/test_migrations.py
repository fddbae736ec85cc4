"""Schema revisions: new databases, migrations from nothing, refusals, upgrades keeping rows."""

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from digest.errors import StoreError
from digest.store import older, revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.editions import get_edition, list_editions
from digest.store.revision import (
    SchemaRevisionError,
    head_revision,
    schema_revision,
    schema_status,
    script_directory,
    upgrade_schema,
)
from tests.store.pre_migration import OLDER, drop_everything, make_pre_migration, snapshot


@pytest.fixture
def url(tmp_path, database_url):
    """An empty database: a SQLite file that does not exist yet, or a PostgreSQL one emptied."""
    if database_url.startswith("sqlite:"):
        return f"sqlite:///{tmp_path / 'state' / 'digest.db'}"
    drop_everything(database_url)
    return database_url


def test_there_is_one_head():
    assert len(script_directory().get_heads()) == 1
    assert script_directory().get_base() == revision.BASELINE


def test_migrations_from_nothing_give_exactly_the_metadata(url):
    """Every schema change to digest/store/schema.py must come with a migration."""
    with open_database(url, check_schema=False) as db:
        done = upgrade_schema(db)
        assert done.before.state == "empty" and done.head == head_revision()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, t.metadata) == []
            assert schema_revision(conn) == done.head


def test_a_new_database_is_created_at_the_head(url):
    with open_database(url) as db:
        assert schema_revision(db.engine) == head_revision()
        assert schema_status(db.engine).up_to_date
        with db.write() as conn:
            conn.execute(t.lists.insert().values(name="matin", title="Matin"))
    # Opened again: checked, not re-created.
    with open_database(url) as db, db.read() as conn:
        assert conn.scalar(select(t.lists.c.name)) == "matin"


def test_a_database_made_before_migrations_is_refused_then_adopted(url):
    make_pre_migration(url)
    before = snapshot(url)
    with pytest.raises(
        SchemaRevisionError,
        match=r"made before digest had migrations\); this "
        rf"digest needs {head_revision()}: run `digest db upgrade`",
    ):
        open_database(url)
    with open_database(url, check_schema=False) as db:
        done = upgrade_schema(db)
    assert done.before.state == "unversioned" and done.before.current is None
    assert done.repaired == ()  # main's schema is the baseline
    assert snapshot(url) == before
    with open_database(url) as db:
        assert schema_revision(db.engine) == done.head


def test_an_unknown_shape_is_refused_with_what_it_lacks(url):
    make_pre_migration(url)
    with open_database(url, check_schema=False) as db:
        with db.write() as conn:
            conn.exec_driver_sql("ALTER TABLE subscribers DROP COLUMN locale")
        with pytest.raises(
            StoreError,
            match=r"missing subscribers\.locale\), and is not one "
            r"an earlier digest wrote; nothing was changed$",
        ):
            upgrade_schema(db)
        assert schema_status(db.engine).state == "unversioned"  # nothing was stamped


def make_older(url: str) -> None:
    """A database as 7f8d174 wrote it: on SQLite the file itself; on PostgreSQL the baseline
    with that commit's differences put back (its code never ran there)."""
    if url.startswith("sqlite:"):
        path = Path(make_url(url).database)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(OLDER, path)
        return
    make_pre_migration(url)
    with open_database(url, check_schema=False) as db, db.write() as conn:
        for table in ("events", "schedules", "scheduler_lease"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("DELETE FROM deliveries WHERE edition_id = 'soir-2025-07-01'")
        conn.exec_driver_sql("DELETE FROM editions WHERE id = 'soir-2025-07-01'")
        for column in older.APPROVAL_COLUMNS:
            conn.exec_driver_sql(f"ALTER TABLE editions DROP COLUMN {column}")
        conn.exec_driver_sql("ALTER TABLE editions DROP CONSTRAINT ck_editions_status")
        conn.exec_driver_sql(
            "ALTER TABLE editions ADD CONSTRAINT ck_editions_status CHECK "
            "(status IN ('ready', 'sending', 'paused', 'sent'))"
        )
        conn.exec_driver_sql("DROP INDEX ix_deliveries_edition_id")
        conn.exec_driver_sql(
            "CREATE INDEX ix_deliveries_edition_status ON deliveries (edition_id, status, id)"
        )


def test_a_database_older_than_the_baseline_is_brought_to_it(url):
    make_older(url)
    fixture = OLDER if url.startswith("sqlite:") else None
    kept = ["lists", "subscribers", "memberships", "suppressions", "deliveries"]
    before = snapshot(url, kept, fixture_file=fixture) if fixture else snapshot(url, kept)
    with open_database(url, check_schema=False) as db:
        done = upgrade_schema(db)
        assert done.repaired == (
            "created events, scheduler_lease, schedules",
            "added editions.needs_approval",
            "added editions.approved_at",
            "added editions.approved_by",
            "added editions.edits_json",
            "allowed edition status 'skipped'",
            "re-indexed deliveries",
        )
        with db.engine.connect() as conn:  # exactly today's schema now
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, t.metadata) == []
    after = snapshot(url, kept, fixture_file=fixture) if fixture else snapshot(url, kept)
    assert after == before and before["deliveries"]
    with open_database(url) as db:
        [edition] = list_editions(db)
        assert edition["id"] == "matinale-2025-07-01"
        stored = get_edition(db, edition["id"])
        assert stored.status == "sent" and stored.needs_approval is False
        with db.write() as conn:  # the new status is allowed by the CHECK now
            conn.execute(t.editions.update().values(status="skipped"))


def test_an_unknown_revision_is_refused_as_ahead(url):
    with open_database(url) as db, db.write() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dface'")
    with pytest.raises(
        SchemaRevisionError,
        match=r"at revision f00dface, which this digest "
        r"does not know \(a newer digest wrote it\)",
    ):
        open_database(url)
    with open_database(url, check_schema=False) as db:
        with pytest.raises(SchemaRevisionError):
            upgrade_schema(db)


LATER = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    # recreate="always": rebuild the table on SQLite even for an ADD COLUMN, as a change of
    # type or constraint would; memberships and deliveries point at it ON DELETE CASCADE.
    # (PostgreSQL alters in place: batch mode is plain ALTER TABLE there.)
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("subscribers", recreate="always" if sqlite else "auto") as batch:
        batch.add_column(sa.Column("nickname", sa.String(50), nullable=True))


def downgrade():
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("nickname")
"""


@pytest.fixture
def later_revision(tmp_path, monkeypatch):
    """This digest, plus a revision 9999 after its head that rebuilds the subscribers table."""
    scripts = tmp_path / "migrations"
    shutil.copytree(revision.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_nickname.py").write_text(LATER.format(head=head_revision()))
    monkeypatch.setattr(revision, "MIGRATIONS_DIR", scripts)
    script_directory.cache_clear()
    yield
    monkeypatch.undo()
    script_directory.cache_clear()


def test_an_upgrade_rebuilding_a_table_keeps_every_row(url, later_revision):
    make_pre_migration(url)
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            revision.adopt_unversioned(conn)  # at 0001 now, like a database made by 0001's code
    before = snapshot(url)
    with pytest.raises(
        SchemaRevisionError,
        match=r"^the database is at revision 0001; this "
        r"digest needs 9999: run `digest db upgrade`$",
    ):
        open_database(url)
    with open_database(url, check_schema=False) as db:
        done = upgrade_schema(db)
        assert (done.before.state, done.before.current, done.head) == ("behind", "0001", "9999")
        assert "nickname" in {c["name"] for c in inspect(db.engine).get_columns("subscribers")}
    assert snapshot(url) == before  # not one membership or ledger row cascaded away
    with open_database(url) as db, db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM memberships").scalar() == 8


def test_a_failed_migration_changes_nothing(url, later_revision):
    head = script_directory().get_revision("9999").down_revision
    with open_database(url) as db, db.write() as conn:
        conn.execute(t.lists.insert().values(name="matin", title="Matin"))
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
    broken = revision.MIGRATIONS_DIR / "versions" / "9999_nickname.py"
    broken.write_text(
        LATER.format(head=head).replace(
            'batch.add_column(sa.Column("nickname", sa.String(50), nullable=True))',
            'batch.add_column(sa.Column("nickname", sa.String(50)))\n'
            '    op.execute("SELECT * FROM no_such_table")',
        )
    )
    with open_database(url, check_schema=False) as db:
        with pytest.raises(Exception, match="no_such_table"):
            upgrade_schema(db)
        assert schema_revision(db.engine) == head
        assert "nickname" not in {c["name"] for c in inspect(db.engine).get_columns("subscribers")}


def test_the_baseline_is_what_main_wrote(url):
    """The baseline migration creates the same tables and columns as 0ec184e's code did."""
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), revision.BASELINE)
    made = snapshot(url)  # reads every fixture table and column: fails if one is missing
    assert set(made) == set(revision.baseline_columns())
