"""Files that hold personal data or live tokens are their owner's alone, whatever the umask.

The database (and SQLite's -wal and -shm beside it) holds every address; an outbox .eml holds
an address and working unsubscribe links; var/.secret-key signs those links; the edition files
are the message itself. Each is created 0600 in folders created 0700. A mode passed to open()
or mkdir() is cut by the umask but never widened, so after creating we set the exact mode:
a umask of 000 must not make a world-readable database, nor a umask of 077 an unreadable one.
Folders that already exist are left alone: their mode is the operator's choice.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(path: str | os.PathLike) -> Path:
    """``path`` and any missing parents, each one created 0700."""
    path = Path(path)
    missing = []
    at = path
    while not at.is_dir():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # another process made it a moment ago: theirs, as made
        os.chmod(folder, DIR_MODE)
    return path


def write_private(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` as a 0600 file: beside it first, then renamed, so a crash
    never leaves half a file and the file is never readable by others, even for a moment."""
    path = Path(path)
    # A temporary name of its own (mkstemp: O_EXCL, 0600, never through a planted symlink), so
    # two writers of the same target (two sends with one --out) never share it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def create_private_file(path: str | os.PathLike) -> bool:
    """Create ``path`` empty and 0600 unless it exists, so that whatever opens it next (SQLite,
    a CSV writer) writes into an owner-only file. True when it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True
