"""A database as main left it before migrations, on either backend, and a way to compare rows.

On SQLite it is tests/fixtures/db/pre-migration.db itself (written by 0ec184e's code, see
tests/fixtures/make_pre_migration_db.py). PostgreSQL gets the same schema from the baseline
migration (which is that schema), minus the revision table, and the fixture's rows.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url

from digest.store.revision import BASELINE, alembic_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "db"
FIXTURE = FIXTURES / "pre-migration.db"
OLDER = FIXTURES / "older-7f8d174.db"  # before the approval columns, events, schedules


def plain_engine(url: str):
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed)


def drop_everything(url: str) -> None:
    engine = plain_engine(url)
    try:
        found = MetaData()
        found.reflect(engine)
        found.drop_all(engine)
    finally:
        engine.dispose()


def make_pre_migration(url: str) -> None:
    """Make the database at ``url`` hold the fixture's rows, with no revision table."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURE, parsed.database)
        return
    drop_everything(url)
    engine = plain_engine(url)
    source = create_engine(f"sqlite:///{FIXTURE}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            conn.execute(text("DROP TABLE alembic_version"))
        tables = MetaData()
        tables.reflect(engine)
        with source.connect() as src, engine.begin() as dst:
            for table in tables.sorted_tables:
                rows = [
                    {k: _aware(v) for k, v in row.items()}
                    for row in src.execute(select(table)).mappings()
                ]
                if rows:
                    dst.execute(table.insert(), rows)
            # As the original inserts would have left them: the next id follows the last one.
            for name in ("lists", "subscribers", "deliveries"):
                dst.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    finally:
        engine.dispose()
        source.dispose()


def snapshot(
    url: str, tables: list[str] | None = None, fixture_file: Path = FIXTURE
) -> dict[str, list[tuple]]:
    """Every row of the fixture's tables (or ``tables``), in the fixture's columns, with
    timestamps as aware UTC: comparable across backends and before/after an upgrade."""
    fixture = MetaData()
    fixture_engine = create_engine(f"sqlite:///{fixture_file}")
    fixture.reflect(fixture_engine)
    fixture_engine.dispose()
    engine = plain_engine(url)
    found = MetaData()
    found.reflect(engine)
    rows = {}
    try:
        with engine.connect() as conn:
            for name in tables or sorted(fixture.tables):
                table = found.tables[name]
                columns = [table.c[c.name] for c in fixture.tables[name].columns]
                rows[name] = sorted(
                    (tuple(_aware(v) for v in row) for row in conn.execute(select(*columns))),
                    key=repr,
                )
    finally:
        engine.dispose()
    return rows


def _aware(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value
