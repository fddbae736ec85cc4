"""Subscriber CSV files as spreadsheets really export them. Pure: no database, no network.

Reading never raises for a bad row: each row is imported, rejected (with its line and a reason)
or merged into an earlier row for the same address. Only a file that cannot be read as a
subscriber list at all (no email column, not text, broken quoting) raises CsvFormatError.
The rules are spelled out for people in subscribers/FORMAT.md; keep the two in step.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from email_validator import EmailNotValidError, EmailSyntaxError, validate_email

from digest.errors import ImportRowError
from digest.headers import ENCODED_WORD_IN_ADDRESS
from digest.store.schema import NAME_MAX


class CsvFormatError(ImportRowError):
    """The whole file is unusable; ``line`` says where, when one line is to blame."""

    def __init__(self, message: str, *, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class CsvRow:
    line: int  # physical line (1-based) where the row starts
    email: str  # normalised by email_validator: domain lower-cased, local part as given
    name: str = ""  # "" when the file gives none
    locale: str | None = None  # "fr", "ar", "fr_MA"...; None when the file gives none


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    value: str = ""  # the email cell as found, to help the person fixing the file


@dataclass(frozen=True)
class Merged:
    """A later row for an address already seen in the same file: the first row wins."""

    line: int
    first_line: int
    email: str


@dataclass
class CsvResult:
    rows: list[CsvRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    merged: list[Merged] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # file-level remarks (encoding guess, ...)
    encoding: str = "utf-8"
    delimiter: str = ","


# Header cells are compared after _header_key(): case-folded, "_" as space, spaces collapsed.
HEADER_ALIASES: Mapping[str, frozenset[str]] = {
    "email": frozenset({
        "email", "e-mail", "mail", "email address", "e-mail address", "courriel",
        "adresse email", "adresse e-mail", "adresse mail", "adresse électronique",
        "البريد الإلكتروني", "البريد الالكتروني", "البريد",
    }),
    "name": frozenset({"name", "full name", "fullname", "display name", "nom", "nom complet",
                       "الاسم"}),
    "locale": frozenset({"locale", "language", "lang", "langue", "اللغة"}),
    # Present in our own exports: lets an export be re-imported without resubscribing anyone.
    "status": frozenset({"status", "statut"}),
}
IMPORTED_STATUSES = frozenset({"", "active", "subscribed"})
NOT_IMPORTED_STATUSES = frozenset({"unsubscribed", "suppressed", "bounced", "cleaned"})

DELIMITERS = ",;\t|"
EXPORT_HEADER = ("email", "name", "locale", "status")
# OWASP "CSV injection": spreadsheets evaluate cells starting with these as formulas.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Language, optional script, optional region: fr, ar, fr_MA, fr-ma, zh_Hant_TW, es_419.
_LOCALE = re.compile(r"([a-z]{2,3})(?:[-_]([a-z]{4}))?(?:[-_]([a-z]{2}|[0-9]{3}))?", re.I)


# --------------------------------------------------------------------------- reading


def read_subscriber_csv(data: bytes | str | os.PathLike) -> CsvResult:
    """Parse a subscriber CSV given as bytes or as a path (``str`` is a path, not CSV text)."""
    if not isinstance(data, bytes | bytearray):
        path = Path(data)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CsvFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    result = CsvResult()
    text = _decode(bytes(data), result)

    stream = io.StringIO(text, newline="")  # newline="": the csv module sees CR/LF itself
    consumed = 0  # physical lines before the header
    forced_delimiter = None
    header_line = ""
    for header_line in stream:
        consumed += 1
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
            "the file is empty: expected a header line such as 'email,name,locale'")
    consumed -= 1  # the header itself is re-read by the csv reader below

    result.delimiter = forced_delimiter or _detect_delimiter(header_line)
    reader = csv.reader(itertools.chain([header_line], stream), delimiter=result.delimiter,
                        strict=True)
    header = _read(reader, consumed + 1)
    columns = _map_header(header, consumed + 1, result)

    previous = reader.line_num
    seen: dict[str, int] = {}  # email key -> line of the row that won
    while True:
        start = consumed + previous + 1
        cells = _read(reader, start)
        if cells is None:
            break
        previous = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank line, or ";;;" left by a spreadsheet: not a row, not an error
        outcome = _parse_row(cells, start, len(header), columns, result.delimiter)
        if isinstance(outcome, Rejected):
            result.rejected.append(outcome)
            continue
        key = outcome.email.lower()
        if key in seen:
            result.merged.append(Merged(line=start, first_line=seen[key], email=outcome.email))
            continue
        seen[key] = start
        result.rows.append(outcome)
    return result


def _read(reader, line: int) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        # strict=True: an unclosed quote would otherwise swallow every following row silently.
        raise CsvFormatError(f"the CSV quoting is broken ({exc}); check the quotes on this row",
                             line=line) from None


def _decode(data: bytes, result: CsvResult) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise CsvFormatError("this is a spreadsheet workbook (.xlsx/.ods), not CSV: "
                             "save it as 'CSV UTF-8' first")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
        try:
            result.encoding = "utf-16"
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise CsvFormatError("the file starts with a UTF-16 mark but is not UTF-16") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
        result.encoding = "utf-8-sig"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
    # Not UTF-8: a spreadsheet's "CSV" export in a Western Windows locale is cp1252, whose
    # accented letters are where French names put them. latin-1 decodes anything (last resort).
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        result.encoding = encoding
        result.notes.append(
            f"the file is not UTF-8 (first bad byte on line {bad_line}); it was read as "
            f"{'Windows-1252' if encoding == 'cp1252' else 'Latin-1'}: check accented names, "
            "or save it as 'CSV UTF-8'"
        )
        return text
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _detect_delimiter(header_line: str) -> str:
    """The delimiter that makes the header show an email column.

    csv.Sniffer is asked first, on the header line only (data rows hold commas inside names
    and would mislead it); its guess is kept only if it yields an email column, otherwise the
    candidates are tried from the most frequent on the line.
    """
    try:
        sniffed = csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    by_count = sorted(DELIMITERS, key=lambda d: -header_line.count(d))
    candidates = ([sniffed] if sniffed else []) + by_count
    for delimiter in candidates:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        if any(_header_key(cell) in HEADER_ALIASES["email"] for cell in cells):
            return delimiter
    return sniffed or (by_count[0] if header_line.count(by_count[0]) else ",")


def _header_key(cell: str) -> str:
    cell = unicodedata.normalize("NFC", cell.strip().lstrip("\ufeff")).casefold()
    return " ".join(cell.replace("_", " ").split())


def _map_header(header: list[str] | None, line: int, result: CsvResult) -> dict[str, int]:
    columns: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(header or []):
        key = _header_key(cell)
        role = next((r for r, names in HEADER_ALIASES.items() if key in names), None)
        if role is None:
            if key:
                ignored.append(cell.strip())
            continue
        if role in columns:
            raise CsvFormatError(
                f"columns {columns[role] + 1} and {index + 1} are both a {role!r} column "
                f"({header[columns[role]].strip()!r} and {cell.strip()!r}); keep one", line=line)
        columns[role] = index
    if "email" not in columns:
        found = ", ".join(repr(c.strip()) for c in header or [] if c.strip()) or "nothing"
        raise CsvFormatError(
            f"the header has no email column (found {found}); name the column 'email' "
            "(also accepted: 'e-mail', 'courriel', 'mail')", line=line)
    if ignored:
        result.notes.append("ignored column(s): " + ", ".join(repr(c) for c in ignored))
    return columns


def _parse_row(cells: list[str], line: int, width: int, columns: dict[str, int],
               delimiter: str) -> CsvRow | Rejected:
    def cell(role: str) -> str:
        index = columns.get(role)
        return cells[index] if index is not None and index < len(cells) else ""

    raw_email = _unescape(cell("email").strip())
    shown = raw_email[:100]
    if any(c.strip() for c in cells[width:]):
        shown_delim = "tab" if delimiter == "\t" else repr(delimiter)
        return Rejected(line, f"{len(cells)} fields but the header has {width}: is there an "
                              f"unquoted {shown_delim} inside a field?", shown)
    if not raw_email:
        return Rejected(line, "no email address", shown)
    try:
        email = normalize_email(raw_email)
    except EmailNotValidError as exc:
        return Rejected(line, f"invalid email address: {exc}", shown)

    status = _header_key(cell("status"))
    if status in NOT_IMPORTED_STATUSES:
        return Rejected(line, f"marked {status!r} in the status column: not imported", shown)
    if status not in IMPORTED_STATUSES:
        return Rejected(line, f"unknown status {cell('status').strip()!r} "
                              "(expected empty, 'active' or 'unsubscribed')", shown)

    name = unicodedata.normalize("NFC", _unescape(cell("name").strip()))
    bad = next((c for c in name if unicodedata.category(c) == "Cc" or c in "\u2028\u2029"), None)
    if bad is not None:
        # A line break in a name would end up in an email header or a greeting line.
        return Rejected(line, f"the name contains a control character (U+{ord(bad):04X}), "
                              "e.g. a line break or tab: names must be one line", shown)
    if len(name) > NAME_MAX:
        return Rejected(line, f"the name is longer than {NAME_MAX} characters", shown)

    raw_locale = cell("locale").strip()
    locale = normalize_locale(raw_locale)
    if raw_locale and locale is None:
        return Rejected(line, f"unknown locale {raw_locale!r} (expected e.g. fr, ar, en, fr_MA)",
                        shown)
    return CsvRow(line=line, email=email, name=name, locale=locale)


def _unescape(value: str) -> str:
    """Undo our own formula-injection guard so an export re-imports to the same values."""
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def normalize_locale(value: str | None) -> str | None:
    """'fr-ma' -> 'fr_MA', 'AR' -> 'ar'; '' -> None; None for anything that is not a locale."""
    match = _LOCALE.fullmatch((value or "").strip())
    if not match:
        return None
    language, script, region = match.groups()
    parts = [language.lower()] + ([script.title()] if script else []) + (
        [region.upper()] if region else [])
    return "_".join(parts)


# RFC 5322 dot-atom, the same character set email_validator accepts without further checks.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_EMAIL_MAX = 254
# Local parts email_validator lower-cases (RFC 2142 role mailboxes): leave them to it.
_ROLE_MAILBOXES = frozenset({
    "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster",
    "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp",
})


def normalize_email(address: str) -> str:
    """email_validator's normalised form of ``address``; raises EmailNotValidError.

    Fast path, because validation dominates a 100k-row import and nearly all of its cost is
    the domain check, while a list holds few distinct domains: a plain ASCII local part (which
    email_validator accepts unchanged) is joined to the domain validated once and cached. Any
    other address, and every invalid one (for the exact message), goes through
    email_validator itself. tests/store/test_csvio.py checks both paths agree.
    """
    if "=?" in address:  # email_validator accepts "=?utf-8?b?...?=@x.org"; headers decode it
        raise EmailSyntaxError(f"The email address {ENCODED_WORD_IN_ADDRESS}.")
    local, at, domain = address.partition("@")
    if (at and domain.isascii() and _DOT_ATOM.fullmatch(local)
            and local.lower() not in _ROLE_MAILBOXES and len(address) <= _EMAIL_MAX):
        checked = _checked_domain(domain)
        if checked is not None:
            normalized_domain, ascii_domain = checked
            if max(len(normalized_domain), len(ascii_domain)) + len(local) + 1 <= _EMAIL_MAX:
                return f"{local}@{normalized_domain}"
    return validate_email(address, check_deliverability=False).normalized


@functools.lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    try:
        result = validate_email("x@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.domain, result.ascii_domain


def email_key(address: str) -> str:
    """The identity of an address: its normalised form, lower-cased (``subscribers.email_key``).

    Addresses email_validator refuses (they may come from a bounce webhook) still get a key,
    plainly lower-cased, so they can be suppressed and looked up.
    """
    address = address.strip()
    try:
        return normalize_email(address).lower()
    except EmailNotValidError:
        return address.lower()


# --------------------------------------------------------------------------- writing


def write_subscriber_csv(rows: Iterable[Any], out: str | os.PathLike | IO, *,
                         bom: bool = False) -> int:
    """Write ``email,name,locale,status`` rows as UTF-8 CSV (CRLF, RFC 4180); return the count.

    ``rows`` items may be objects with those attributes, mappings, or 4-tuples. ``out`` is a
    path or an open text/binary file. ``bom=True`` adds the mark Excel needs to read UTF-8.
    Cells that a spreadsheet would run as a formula get a leading apostrophe.
    """
    if isinstance(out, str | os.PathLike):
        with open(out, "w", encoding="utf-8", newline="") as handle:
            return write_subscriber_csv(rows, handle, bom=bom)
    if isinstance(out, io.RawIOBase | io.BufferedIOBase) or "b" in str(getattr(out, "mode", "")):
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        try:
            return write_subscriber_csv(rows, text, bom=bom)
        finally:
            text.detach()  # leave the caller's binary file open
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    count = 0
    for row in rows:
        writer.writerow([_guard(_field(row, i, key)) for i, key in enumerate(EXPORT_HEADER)])
        count += 1
    return count


def _field(row: Any, index: int, key: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(key)
    if isinstance(row, tuple | list):
        return row[index] if index < len(row) else None
    return getattr(row, key, None)


def _guard(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
