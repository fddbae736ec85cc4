from pathlib import Path

import pytest

from digest.store.db import open_database

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
