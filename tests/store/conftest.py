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
def db(tmp_path):
    """A real SQLite file (WAL, foreign keys) in a folder that does not exist yet."""
    database = open_database(f"sqlite:///{tmp_path / 'state' / 'digest.db'}")
    yield database
    database.close()
