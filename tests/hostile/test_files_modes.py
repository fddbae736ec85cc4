"""Files holding addresses or live tokens are owner-only whatever the umask.

The attack is a shared machine: another account reading the database (every address), an
outbox .eml (an address and working unsubscribe links), var/.secret-key (forge any link) or
an export. Each test runs with umask 000, which used to make all of them world-readable (and
the edition files world-writable), and checks the modes: 0600 files, 0700 folders.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from digest.private_files import create_private_file, make_private_dir, write_private
from digest.store.db import open_database
from tests.conftest import EXAMPLE_CSV, ROOT, SAMPLE_NOW


@pytest.fixture
def umask_000():
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def digest(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # inherits the umask
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_sqlite_database_wal_and_shm_are_owner_only(tmp_path, umask_000):
    path = tmp_path / "var" / "data" / "digest.db"
    db = open_database(f"sqlite:///{path}")
    try:
        with db.read() as conn:  # an open connection keeps -wal and -shm in place
            conn.exec_driver_sql("SELECT count(*) FROM subscribers").scalar()
            files = [path, path.with_name("digest.db-wal"), path.with_name("digest.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        db.close()
    assert mode(tmp_path / "var") == 0o700 and mode(tmp_path / "var" / "data") == 0o700


def test_send_and_build_files_are_owner_only(site, tmp_path, umask_000):
    """The database (SQLite or PostgreSQL), the generated key, the outbox and edition files,
    and a CSV export, all made by the CLI as an operator runs it."""
    digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    digest(
        "send",
        "--list",
        "matinale",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "outbox"),
        cwd=tmp_path,
    )
    digest("build", "--now", SAMPLE_NOW, "--out", str(tmp_path / "ed" / "today"), cwd=tmp_path)
    digest(
        "subscribers",
        "export",
        "--list",
        "matinale",
        "--out",
        str(tmp_path / "list.csv"),
        cwd=tmp_path,
    )
    state = tmp_path / ("state" if (tmp_path / "state").exists() else "var")
    folders = [state, tmp_path / "outbox", tmp_path / "ed", tmp_path / "ed" / "today"]
    files = [
        state / ".secret-key",
        tmp_path / "list.csv",
        *(tmp_path / "outbox").iterdir(),
        *(tmp_path / "ed" / "today").iterdir(),
    ]
    if (state / "digest.db").exists():
        files.append(state / "digest.db")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) >= 3
    assert {str(f): mode(f) for f in folders} == {str(f): 0o700 for f in folders}
    assert {str(f): mode(f) for f in files} == {str(f): 0o600 for f in files}


def test_rewriting_a_file_left_wide_open_makes_it_owner_only(tmp_path, umask_000):
    """A message or edition file from before, left 0666: rewritten owner-only, and no
    temporary file of the write is left beside it."""
    target = tmp_path / "edition.json"
    target.write_text("old")
    target.chmod(0o666)
    write_private(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edition.json"]


def test_a_symlink_planted_at_the_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    """The temporary name is made with O_EXCL (mkstemp): a symlink planted at the name an
    older digest used, or at any guessable one, is never written through."""
    (tmp_path / ".message.eml.tmp").symlink_to(victim)
    write_private(tmp_path / "message.eml", b"data")
    assert victim.read_text() == "keep"
    assert (tmp_path / "message.eml").read_bytes() == b"data"


def test_existing_folders_and_files_are_left_as_their_owner_set_them(tmp_path, umask_000):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)
    make_private_dir(shared / "outbox")
    assert mode(shared) == 0o750 and mode(shared / "outbox") == 0o700
    existing = shared / "digest.db"
    existing.write_bytes(b"")
    existing.chmod(0o640)
    assert create_private_file(existing) is False and mode(existing) == 0o640


def test_gitignore_covers_sqlite_side_files():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert {"*.db", "*.db-wal", "*.db-shm", ".secret-key"} <= set(lines)
