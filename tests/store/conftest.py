from pathlib import Path

import pytest

from digest.store.db import open_database
from tests.store.pre_migration import drop_everything

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "csv"


@pytest.fixture
def fixture_path():
    def path(name: str) -> Path:
        return FIXTURES / name

    return path


@pytest.fixture
def db(tmp_path, database_url):
    """A real SQLite file (WAL, foreign keys) in a folder that does not exist yet, or a fresh
    PostgreSQL database (see tests/conftest.py)."""
    if database_url.startswith("sqlite:"):
        database_url = f"sqlite:///{tmp_path / 'state' / 'digest.db'}"
    database = open_database(database_url)
    yield database
    database.close()


@pytest.fixture
def url(tmp_path, database_url):
    """An empty database for a migration test to write at an older revision: a SQLite file in a
    new folder, or the test's PostgreSQL database with every table dropped."""
    if database_url.startswith("sqlite:"):
        return f"sqlite:///{tmp_path / 'state' / 'digest.db'}"
    drop_everything(database_url)
    return database_url
