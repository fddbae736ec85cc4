"""What reading a subscriber CSV gives (digest/store/csvio.py reads): each good row, each
rejected or merged one, the file's report, and the compact set of addresses seen so far."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from digest.store.csvformats import SUBSCRIBE


@dataclass(frozen=True)
class CsvRow:
    line: int  # physical line (1-based) where the row starts
    email: str  # normalised by email_validator: domain lower-cased, local part as given
    name: str = ""  # "" when the file gives none
    locale: str | None = None  # "fr", "ar", "fr_MA"...; None when the file gives none
    timezone: str | None = None  # IANA name ("Africa/Casablanca"); None when none or invalid
    action: str = SUBSCRIBE  # csvformats.SUBSCRIBE, OPT_OUT or SUPPRESS


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    value: str = ""  # the email cell as found, to help the person fixing the file
    file: str = ""  # the CSV inside a ZIP this row comes from ("" for a plain file)


@dataclass(frozen=True)
class Merged:
    """A later row for an address already seen in the same file: the first row wins."""

    line: int
    first_line: int
    email: str


# Rejected rows, warnings and merges kept in detail per file; beyond, they are only counted
# (a hostile million-row file of bad rows must not make the report itself the memory hog).
REPORT_MAX = 1000


@dataclass
class CsvResult:
    rows: list[CsvRow] = field(default_factory=list)  # empty while streaming (CsvStream)
    rejected: list[Rejected] = field(default_factory=list)
    merged: list[Merged] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # file-level remarks (encoding guess, ...)
    encoding: str = "utf-8"
    delimiter: str = ","
    format: str = "CSV"  # csvformats.Format.label: "Mailchimp audience export (...)"...
    suppression_reason: str = "blocklisted"  # for SUPPRESS rows (csvformats.Format)
    source: str = ""  # file name inside a ZIP
    warnings: list[Rejected] = field(default_factory=list)  # imported, but a value dropped
    rejected_count: int = 0  # all rejected rows, including those past REPORT_MAX
    merged_count: int = 0

    def reject(self, item: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < REPORT_MAX:
            self.rejected.append(replace(item, file=self.source) if self.source else item)

    def warn(self, item: Rejected) -> None:
        if len(self.warnings) < REPORT_MAX:
            self.warnings.append(replace(item, file=self.source) if self.source else item)

    def merge(self, item: Merged) -> None:
        self.merged_count += 1
        if len(self.merged) < REPORT_MAX:
            self.merged.append(item)

    @property
    def total_rejected(self) -> int:
        return max(self.rejected_count, len(self.rejected))

    @property
    def total_merged(self) -> int:
        return max(self.merged_count, len(self.merged))


class SeenAddresses:
    """The addresses already read in one file, each with the line of its first row.

    The only per-row memory an import keeps, so it is packed: 12 bytes per address (an 80-bit
    BLAKE2 digest of the key, 2 bytes of it choosing one of 65,536 buckets, and the line)
    instead of ~120 for a dict of strings. Two different addresses share a digest with a
    probability of about 1e-12 in a file of a million. Lookups are ``bytearray.find``.
    """

    ENTRY = 12  # 8 bytes of digest + 4 bytes of line number

    def __init__(self):
        self._buckets: list[bytearray | None] = [None] * 65536

    def first_line(self, key: str, line: int) -> int | None:
        """The line of an earlier row with ``key``; None (and ``line`` is remembered) if new."""
        digest = hashlib.blake2b(key.encode(), digest_size=10).digest()
        index, tag = int.from_bytes(digest[:2], "big"), digest[2:]
        bucket = self._buckets[index]
        if bucket is None:
            bucket = self._buckets[index] = bytearray()
        at = bucket.find(tag)
        while at != -1:
            if at % self.ENTRY == 0:
                return int.from_bytes(bucket[at + 8 : at + 12], "big")
            at = bucket.find(tag, at + 1)
        bucket += tag + min(line, 2**32 - 1).to_bytes(4, "big")
        return None
