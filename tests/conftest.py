"""Shared fixtures: a complete site configured in a temporary folder, with a real SQLite file."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "homepage-fr.txt"
EXAMPLE_CSV = ROOT / "subscribers" / "matinale-example.csv"
SAMPLE_NOW = "2025-07-01T08:00:00+01:00"

SITE_TOML = """
[site]
name = "L'Écho de Casablanca"
url = "https://www.example.ma"
timezone = "Africa/Casablanca"
locale = "{locale}"
postal_address = "12 boulevard d'Anfa, 20000 Casablanca, Maroc"
public_url = "https://www.example.ma/digest"

[sender]
email = "matinale@example.ma"
name = "L'Écho de Casablanca"
unsubscribe_mailto = "desabonnement@example.ma"

[database]
url = "sqlite:///state/digest.db"

[lists.matinale]
title = "La matinale"

[[sources]]
name = "homepage"
kind = "text"
path = "{sample}"
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A config file in tmp_path; the environment is cleared of anything that would leak in."""
    for var in ("DIGEST_CONFIG", "DIGEST_DATABASE_URL", "DIGEST_SECRET_KEY", "SENDGRID_API_KEY",
                "SENDGRID_API_HOST"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "digest.toml"
    path.write_text(SITE_TOML.format(locale="fr", sample=SAMPLE), encoding="utf-8")
    return path


@pytest.fixture
def config(site):
    from digest.config import load_config

    return load_config(site, env={})


@pytest.fixture
def db(config):
    """The site's database: a real SQLite file under tmp_path/state."""
    from digest.store.db import open_database

    database = open_database(config.database_url)
    yield database
    database.close()
