"""Shared paths and the edition settings the sample dump was written against."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CASABLANCA = ZoneInfo("Africa/Casablanca")
PARIS = ZoneInfo("Europe/Paris")
REFERENCE = datetime.fromisoformat("2025-07-01T08:00:00+01:00")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
