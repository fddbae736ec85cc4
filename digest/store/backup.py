"""SQLite backups with SQLite's online backup API: a consistent copy while others write.

The database is in WAL mode, so the backup's read transaction sees one snapshot and does not
block the scheduler's writes; it is copied in one step (a step-by-step copy restarts every
time another connection writes, and may never finish under a busy scheduler).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from digest.errors import StoreError
from digest.store.db import Database


def sqlite_file(db: Database) -> Path | None:
    """The database file of a SQLite database, or None (PostgreSQL, in-memory)."""
    if db.dialect != "sqlite":
        return None
    name = make_url(str(db.engine.url)).database or ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).resolve()


def backup_sqlite(db: Database, dest: Path) -> Path:
    """Copy the SQLite database to ``dest`` (which must not exist), readable by its owner only.

    Raises StoreError for PostgreSQL (pg_dump does this job there) or if ``dest`` exists.
    """
    source = sqlite_file(db)
    if source is None:
        raise StoreError(
            "digest db backup copies SQLite files only; for PostgreSQL use "
            "pg_dump (e.g. pg_dump -Fc -f digest.dump DATABASE_URL)"
        )
    dest = Path(dest)
    try:
        # O_EXCL: never overwrite (an older backup is worth keeping); 0600: it holds addresses.
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreError(f"{dest} already exists; choose another file name") from None
    except OSError as exc:
        raise StoreError(f"cannot write the backup {dest}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        src = sqlite3.connect(source)
        try:
            src.execute(f"PRAGMA busy_timeout = {30_000}")
            dst = sqlite3.connect(dest)
            try:
                src.backup(dst)  # pages=-1: the whole file from one snapshot
                # One self-contained file: no -wal beside it to forget when moving it.
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise StoreError(f"cannot back up {source} to {dest}: {exc}") from None
    return dest


def backup_name(source: Path, revision: str | None, now: datetime | None = None) -> Path:
    """Where ``digest db upgrade`` keeps the copy it makes first:
    ``digest.db.bak-<revision>-<UTC timestamp>`` beside the file."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return source.with_name(f"{source.name}.bak-{revision or 'none'}-{stamp}")
