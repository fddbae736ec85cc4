"""Subscriber CSV files as spreadsheets and mailing tools really export them. No database.

Reading streams: a file (or each CSV in a ZIP) is read row by row and never held whole, so an
import's memory does not grow with the file. Reading never raises for a bad row: each row is
imported, rejected (with its line and a reason) or merged into an earlier row for the same
address. Only a file that cannot be read as a subscriber list at all (no email column, not
text, broken quoting) raises CsvFormatError. Encodings are in ``csvdecode``, which tool wrote
the file in ``csvformats``, ZIP archives in ``csvzip``. The rules are spelled out for people in
subscribers/FORMAT.md; keep the two in step.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from email_validator import EmailNotValidError

from digest.normalize import normalize_email, normalize_locale, normalize_timezone
from digest.store.csvdecode import LABELS, LINE_MAX, CsvFormatError, Opener, TextLines
from digest.store.csvdecode import detect_encoding as detect_encoding
from digest.store.csvexport import FORMULA_START
from digest.store.csvexport import write_subscriber_csv as write_subscriber_csv
from digest.store.csvformats import (
    Format,
    detect_delimiter,
    map_header,
    recognize,
    row_action,
)
from digest.store.csvrows import CsvResult as CsvResult
from digest.store.csvrows import CsvRow as CsvRow
from digest.store.csvrows import Merged as Merged
from digest.store.csvrows import Rejected as Rejected
from digest.store.csvrows import SeenAddresses
from digest.store.csvzip import is_zip, open_zip
from digest.store.schema import NAME_MAX

__all__ = ["CsvFormatError"]  # re-exported: callers catch it from here


class CsvStream:
    """One subscriber CSV, read row by row when iterated (once). ``result`` fills in as the
    rows go by (format, encoding, rejected, merged...); the rows themselves are not kept."""

    def __init__(self, opener: Opener, source: str = ""):
        self.result = CsvResult(source=source)
        self._opener = opener

    def __iter__(self) -> Iterator[CsvRow]:
        return _read_rows(self._opener, self.result)


# --------------------------------------------------------------------------- reading


def open_subscriber_files(data: bytes | str | os.PathLike) -> list[CsvStream]:
    """The subscriber CSVs in ``data`` (bytes, or a path: ``str`` is a path, not CSV text):
    one for a CSV file, one per CSV member for a ZIP (Mailchimp's audience export), the
    opt-outs and suppressions first. Nothing is read beyond the first bytes yet."""
    if isinstance(data, bytes | bytearray):
        payload = bytes(data)
        head = payload[:4]

        def opener() -> IO[bytes]:
            return io.BytesIO(payload)
    else:
        path = Path(data)
        try:
            with open(path, "rb") as handle:
                head = handle.read(4)
        except OSError as exc:
            raise CsvFormatError(f"cannot read {path}: {exc.strerror or exc}") from None

        def opener() -> IO[bytes]:
            return open(path, "rb")

    if not is_zip(head):
        return [CsvStream(opener)]
    contents = open_zip(opener())
    # Opt-outs and suppressions before subscriptions, so the same address in two files of one
    # export ends up on the side of the person's refusal whatever the archive order.
    members = sorted(
        contents.members,
        key=lambda m: (
            0 if re.match(r"(cleaned|unsubscribed)_", m.name.rsplit("/", 1)[-1], re.I) else 1
        ),
    )
    streams = [CsvStream(member.opener, member.name) for member in members]
    if contents.ignored:
        streams[0].result.notes.append(
            "ignored in the ZIP (not .csv): "
            + ", ".join(repr(n) for n in contents.ignored[:10])
            + (f" and {len(contents.ignored) - 10} more" if len(contents.ignored) > 10 else "")
        )
    return streams


def read_subscriber_csv(data: bytes | str | os.PathLike) -> CsvResult:
    """Parse one subscriber CSV into memory (``rows`` filled): for small files and tests.
    Imports stream with ``open_subscriber_files`` instead."""
    streams = open_subscriber_files(data)
    if len(streams) != 1:
        raise CsvFormatError(
            f"the ZIP holds {len(streams)} CSV files: import the ZIP itself "
            "with 'digest subscribers import'"
        )
    rows = list(streams[0])
    streams[0].result.rows = rows
    return streams[0].result


def _read_rows(opener: Opener, result: CsvResult) -> Iterator[CsvRow]:
    detected = detect_encoding(opener)
    result.encoding = detected.encoding
    if detected.note:
        result.notes.append(detected.note)
    lines = TextLines(opener, detected.encoding)
    try:
        yield from _parse(lines, result)
    except CsvFormatError as exc:
        if not result.source:
            raise
        named = CsvFormatError(f"{result.source}: {exc}")  # which file of the ZIP
        named.line = exc.line
        raise named from None
    finally:
        lines.close()


def _parse(lines: TextLines, result: CsvResult) -> Iterator[CsvRow]:
    forced_delimiter = None
    header_line = ""
    for header_line in lines:
        stripped = header_line.strip()
        if not stripped:
            continue
        # Excel writes and honours a "sep=;" first line naming the delimiter.
        if forced_delimiter is None and re.fullmatch(r"sep=.", stripped, re.I):
            forced_delimiter = stripped[4]
            continue
        break
    else:
        raise CsvFormatError(
            "the file is empty: expected a header line such as 'email,name,locale'"
        )
    header_at = lines.number
    lines.mark()

    result.delimiter = forced_delimiter or detect_delimiter(header_line)
    reader = csv.reader(
        itertools.chain([header_line], lines), delimiter=result.delimiter, strict=True
    )
    header = _read(reader, header_at)
    fmt = recognize(header or [], result.source)
    result.format, result.suppression_reason = fmt.label, fmt.suppression_reason
    columns = map_header(header, header_at, result.notes)
    width = len(header or [])

    seen = SeenAddresses()
    while True:
        lines.mark()
        start = lines.number + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" not in str(exc):
                # strict=True: an unclosed quote would otherwise swallow every row after it.
                raise CsvFormatError(
                    f"the CSV quoting is broken ({exc}); check the quotes on this row", line=start
                ) from None
            _skip_record(lines, start)
            result.reject(
                Rejected(
                    start,
                    f"a field is longer than {csv.field_size_limit():,} characters: row skipped",
                )
            )
            continue
        if lines.long_line:
            result.reject(
                Rejected(
                    start, f"line {lines.long_line} is longer than {LINE_MAX:,} bytes: row skipped"
                )
            )
            continue
        if not any(cell.strip() for cell in cells):
            continue  # blank line, or ";;;" left by a spreadsheet: not a row, not an error
        if lines.bad_line:
            label = LABELS[lines.encoding]
            result.reject(
                Rejected(
                    start,
                    f"line {lines.bad_line} is not {label} like the rest of the file "
                    "(a file mixing encodings?): fix the names on it or save the file as "
                    "'CSV UTF-8'",
                    _email_cell(cells, columns)[:100],
                )
            )
            continue
        outcome = _parse_row(cells, start, width, columns, result.delimiter, fmt, result)
        if isinstance(outcome, Rejected):
            result.reject(outcome)
            continue
        first = seen.first_line(outcome.email.lower(), start)
        if first is not None:
            result.merge(Merged(line=start, first_line=first, email=outcome.email))
            continue
        yield outcome


def _skip_record(lines: TextLines, start: int) -> None:
    """After an oversized field: read on to the end of its record (an even number of quotes
    at a line end), so the next row starts where it should."""
    while lines.quotes % 2:
        if next(lines, None) is None:
            raise CsvFormatError(
                "the CSV quoting is broken (a quote is never closed); check the quotes on this row",
                line=start,
            )


def _read(reader, line: int) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        # strict=True: an unclosed quote would otherwise swallow every following row silently.
        raise CsvFormatError(
            f"the CSV quoting is broken ({exc}); check the quotes on this row", line=line
        ) from None


def _email_cell(cells: list[str], columns: dict[str, int]) -> str:
    index = columns["email"]
    return cells[index].strip() if index < len(cells) else ""


def _parse_row(
    cells: list[str],
    line: int,
    width: int,
    columns: dict[str, int],
    delimiter: str,
    fmt: Format,
    result: CsvResult,
) -> CsvRow | Rejected:
    def cell(role: str) -> str:
        index = columns.get(role)
        return cells[index] if index is not None and index < len(cells) else ""

    raw_email = _unescape(cell("email").strip())
    shown = raw_email[:100]
    if any(c.strip() for c in cells[width:]):
        shown_delim = "tab" if delimiter == "\t" else repr(delimiter)
        return Rejected(
            line,
            f"{len(cells)} fields but the header has {width}: is there an "
            f"unquoted {shown_delim} inside a field?",
            shown,
        )
    if not raw_email:
        return Rejected(line, "no email address", shown)
    try:
        email = normalize_email(raw_email)
    except EmailNotValidError as exc:
        return Rejected(line, f"invalid email address: {exc}", shown)

    action, refusal = row_action(fmt, cell("status").strip(), cell("subscription_status"))
    if action is None:
        return Rejected(line, refusal, shown)

    name = _unescape(cell("name").strip()) or " ".join(
        part
        for part in (_unescape(cell("first_name").strip()), _unescape(cell("last_name").strip()))
        if part
    )
    name = unicodedata.normalize("NFC", name)
    bad = next((c for c in name if unicodedata.category(c) == "Cc" or c in "\u2028\u2029"), None)
    if bad is not None:
        # A line break in a name would end up in an email header or a greeting line.
        return Rejected(
            line,
            f"the name contains a control character (U+{ord(bad):04X}), "
            "e.g. a line break or tab: names must be one line",
            shown,
        )
    if len(name) > NAME_MAX:
        return Rejected(line, f"the name is longer than {NAME_MAX} characters", shown)

    raw_locale = cell("locale").strip()
    locale = normalize_locale(raw_locale)
    if raw_locale and locale is None:
        return Rejected(
            line, f"unknown locale {raw_locale!r} (expected e.g. fr, ar, en, fr_MA)", shown
        )

    raw_zone = cell("timezone").strip()
    zone = normalize_timezone(raw_zone)
    if raw_zone and zone is None:
        # Not fatal: the row is imported without it and the site's time zone applies.
        result.warn(
            Rejected(
                line,
                f"time zone {raw_zone[:70]!r} is not an IANA time zone "
                "name (e.g. Africa/Casablanca): dropped",
                shown,
            )
        )
    return CsvRow(line=line, email=email, name=name, locale=locale, timezone=zone, action=action)


def _unescape(value: str) -> str:
    """Undo our own formula-injection guard so an export re-imports to the same values."""
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value
