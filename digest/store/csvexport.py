"""Writing subscriber CSV files: our export format, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from typing import IO, Any

EXPORT_HEADER = ("email", "name", "locale", "status")
# OWASP "CSV injection": spreadsheets evaluate cells starting with these as formulas.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_subscriber_csv(
    rows: Iterable[Any], out: str | os.PathLike | IO, *, bom: bool = False
) -> int:
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
