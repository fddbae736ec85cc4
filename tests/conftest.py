"""Shared fixtures: a complete site configured in a temporary folder, with a real database.

The database-facing tests (DATABASE_FACING below: tests/store/, tests/delivery/test_send*.py,
tests/cli/, tests/schedule/, tests/web/, tests/hostile/) that use ``site``/``config``/``db``
run twice: on a SQLite file (``[sqlite]``) and on a fresh PostgreSQL database of their own
(``[postgresql]``), created on the server named by DIGEST_TEST_POSTGRES_URL and dropped after
the test. Without that variable the PostgreSQL variant is skipped, except under CI (CI=true),
where it is an error: CI must test PostgreSQL (.ci/run starts it with .ci/postgres.sh).
"""

import itertools
import os
import time
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
url = "{database_url}"

[lists.matinale]
title = "La matinale"

[[sources]]
name = "homepage"
kind = "text"
path = "{sample}"
"""


SQLITE_URL = "sqlite:///state/digest.db"  # the site's database, relative to digest.toml
BACKENDS = ("sqlite", "postgresql")
# Tests (by path under tests/, prefixes) that run on every backend; the others run on SQLite
# only. A test about SQLite itself opts out with @pytest.mark.sqlite_only.
DATABASE_FACING = (
    "store/",
    "delivery/test_send.py",
    "delivery/test_send_",
    "cli/",
    "schedule/",
    "web/",
    "hostile/",
)
POSTGRES_ENV = "DIGEST_TEST_POSTGRES_URL"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "sqlite_only: a database test about SQLite itself (pragmas, locking); "
        "not run on PostgreSQL",
    )


def pytest_generate_tests(metafunc):
    if "database_url" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        return
    where = metafunc.definition.path.relative_to(Path(__file__).parent).as_posix()
    if where.startswith(DATABASE_FACING):
        metafunc.parametrize("database_url", BACKENDS, indirect=True)


class _Postgres:
    """The test server: a fresh database per test, dropped afterwards.

    Each is a copy of a template made once per session by ``open_database`` on an empty
    database, so it holds the tables and nothing else. Copying a small template (WAL_LOG) takes
    ~20 ms; a database made from template0 and then given its tables took ~300 ms per test.
    """

    def __init__(self, url: str):
        from sqlalchemy.engine import make_url

        self.url = make_url(url)
        self.names = (f"digest_t{os.getpid()}_{n}" for n in itertools.count())
        self.template = f"digest_tpl{os.getpid()}"
        self._admin = None
        self._template_ready = False

    def admin(self):
        import psycopg

        if self._admin is None or self._admin.closed:
            u = self.url
            self._admin = psycopg.connect(
                host=u.host,
                port=u.port,
                user=u.username,
                password=u.password,
                dbname=u.database,
                autocommit=True,
            )
        return self._admin

    def create(self) -> str:
        if not self._template_ready:
            from digest.store.db import open_database

            self.drop(self.template)
            self.admin().execute(f'CREATE DATABASE "{self.template}" TEMPLATE template0')
            open_database(self.url_for(self.template)).close()  # creates the tables
            self._template_ready = True
        name = next(self.names)
        create = f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'
        for attempt in range(5):
            try:
                try:
                    self.admin().execute(create + " STRATEGY WAL_LOG")
                except Exception as exc:  # before PostgreSQL 15 there is no STRATEGY
                    if "strategy" not in str(exc).lower() and "syntax" not in str(exc).lower():
                        raise
                    self.admin().execute(create)
                return name
            except Exception as exc:
                # "source database is being accessed by other users": a connection to the
                # template (autovacuum, a late close) blocks the copy for a moment.
                if "being accessed" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return name

    def drop(self, name: str) -> None:
        # FORCE: a process the test killed (SIGKILL) may have left its connection behind. An
        # autovacuum worker in the database can refuse the FORCE to a role without
        # pg_signal_backend (a server not set up by .ci/postgres.sh): it ends in a moment.
        for attempt in range(10):
            try:
                self.admin().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except Exception as exc:
                if "pg_signal_backend" not in str(exc) or attempt == 9:
                    raise
                time.sleep(0.3 * (attempt + 1))

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        if self._template_ready:
            self.drop(self.template)
        if self._admin is not None:
            self._admin.close()


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(
                f"CI is set but {POSTGRES_ENV} is not: CI must run the database tests on "
                "PostgreSQL (.ci/run starts a server with .ci/postgres.sh)",
                pytrace=False,
            )
        pytest.skip(
            f"PostgreSQL variant: set {POSTGRES_ENV} (e.g. "
            f'{POSTGRES_ENV}="$(bash .ci/postgres.sh)") to run it'
        )
    server = _Postgres(url)
    yield server
    server.close()


@pytest.fixture
def database_url(request):
    """The URL written into the site's digest.toml: SQLite (relative to the file) or a fresh
    PostgreSQL database for this test only."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield SQLITE_URL
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create()
    try:
        yield server.url_for(name)
    finally:
        server.drop(name)


@pytest.fixture(autouse=True)
def english_locale(monkeypatch):
    """The command line speaks the locale's language (digest/cli/language.py): every test,
    and every `digest` process a test starts, reads English whatever the machine's LANG. A
    test of another language sets LANG or DIGEST_LANG itself."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "DIGEST_LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def site(tmp_path, monkeypatch, database_url):
    """A config file in tmp_path; the environment is cleared of anything that would leak in."""
    for var in (
        "DIGEST_CONFIG",
        "DIGEST_DATABASE_URL",
        "DIGEST_SECRET_KEY",
        "SENDGRID_API_KEY",
        "SENDGRID_API_HOST",
    ):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "digest.toml"
    path.write_text(
        SITE_TOML.format(locale="fr", sample=SAMPLE, database_url=database_url), encoding="utf-8"
    )
    return path


@pytest.fixture
def config(site):
    from digest.config import load_config

    return load_config(site, env={})


@pytest.fixture
def db(config):
    """The site's database: a real SQLite file under tmp_path/state, or PostgreSQL."""
    from digest.store.db import open_database

    database = open_database(config.database_url)
    yield database
    database.close()
