"""Writing a file so that readers see the old content or the new one, never half of either.

The bytes go to a temporary file beside the target, with a name of its own (two processes
writing the same target, e.g. two sends with the same --out, never share a temporary file),
then ``os.replace`` swaps it in atomically. A failure removes the temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; these files are meant to be read
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
