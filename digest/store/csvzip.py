"""The CSV files inside a ZIP (Mailchimp's audience export), read as streams, never extracted.

A ZIP is hostile input like any upload: nothing is written to disk (so member names cannot
climb out of a folder), members are read through a counter that stops at MEMBER_MAX bytes
whatever the ZIP's own header claims (zip bombs), only `.csv` members are read (others are
listed as ignored), and encrypted or broken archives are refused with a sentence.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from digest.store.csvdecode import CsvFormatError

MEMBER_MAX = 1024 * 1024 * 1024  # decompressed bytes read from one member, at most
MEMBERS_MAX = 20  # CSV members read from one archive
WORKBOOK_MARKS = ("[Content_Types].xml", "mimetype", "content.xml")  # .xlsx / .ods


@dataclass
class ZipCsv:
    name: str  # as stored in the archive, for messages only
    opener: Callable[[], IO[bytes]]


@dataclass
class ZipContents:
    members: list[ZipCsv] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class _Capped(io.RawIOBase):
    """A member's decompressed bytes, refusing to go past ``limit``."""

    def __init__(self, stream: IO[bytes], name: str, limit: int):
        self._stream, self._name, self._left = stream, name, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._stream.read(min(len(buffer), self._left + 1))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # bad CRC, truncated data
            raise CsvFormatError(f"{self._name!r} in the ZIP is damaged ({exc})") from None
        if len(data) > self._left:
            raise CsvFormatError(
                f"{self._name!r} in the ZIP unpacks to more than {MEMBER_MAX // 2**20} MiB: refused"
            )
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def is_zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def open_zip(source: str | IO[bytes]) -> ZipContents:
    """The archive's CSV members (in archive order) and the names of what was skipped."""
    try:
        archive = zipfile.ZipFile(source)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CsvFormatError(f"the ZIP file is damaged ({exc})") from None
    names = {info.filename for info in infos}
    if any(mark in names for mark in WORKBOOK_MARKS):
        raise CsvFormatError(
            "this is a spreadsheet workbook (.xlsx/.ods), not CSV: save it as 'CSV UTF-8' first"
        )
    contents = ZipContents()
    for info in infos:
        shown = info.filename[:200]
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        parts = info.filename.replace("\\", "/").split("/")
        if (
            info.is_dir()
            or not base.casefold().endswith(".csv")
            or base.startswith(".")
            or info.filename.startswith("__MACOSX/")
            # Path tricks: nothing is extracted, but such a member is no export either.
            or ".." in parts
            or info.filename.startswith(("/", "\\"))
            or ":" in parts[0]
        ):
            if not info.is_dir():
                contents.ignored.append(shown)
            continue
        if info.flag_bits & 0x1:
            raise CsvFormatError(f"{shown!r} in the ZIP is encrypted: export it without a password")
        if len(contents.members) == MEMBERS_MAX:
            raise CsvFormatError(
                f"the ZIP holds more than {MEMBERS_MAX} CSV files: import them one by one"
            )
        contents.members.append(ZipCsv(shown, _member_opener(archive, info, shown)))
    if not contents.members:
        found = ", ".join(repr(n) for n in contents.ignored[:10]) or "nothing"
        raise CsvFormatError(f"the ZIP holds no .csv file (found {found})")
    return contents


def _member_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str):
    def opener() -> IO[bytes]:
        try:
            raw = archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise CsvFormatError(f"{name!r} in the ZIP cannot be read ({exc})") from None
        return io.BufferedReader(_Capped(raw, name, MEMBER_MAX))

    return opener
