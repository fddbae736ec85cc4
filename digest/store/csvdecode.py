"""A subscriber file's bytes as text lines, streamed: encoding detection and per-line decoding.

Nothing here holds the file: detection reads a sample (the lines that are not plain ASCII,
up to SAMPLE_BYTES), then the file is read again line by line. A line that does not decode in
the detected encoding is passed on (with replacement characters, so the CSV quoting stays in
step) and flagged, so the reader rejects that row only, with its line number.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from charset_normalizer import from_bytes

from digest.errors import ImportRowError

Opener = Callable[[], IO[bytes]]  # a fresh binary stream from the start, each call

SAMPLE_BYTES = 64 * 1024  # non-ASCII lines handed to the detector
READ_CHUNK = 64 * 1024
# A physical line longer than this is skipped (its row rejected) without being held in memory.
# Well above the csv module's field limit (131,072 characters), which catches shorter ones.
LINE_MAX = 1024 * 1024

# Candidates besides UTF-8: what Excel writes as "CSV" on Western and Arabic Windows.
SINGLE_BYTE = ("cp1252", "cp1256")
LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (with BOM)",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "cp1256": "Windows-1256 (Arabic)",
}
_EOL = re.compile(rb"\r\n|\r|\n")


class CsvFormatError(ImportRowError):
    """The whole file is unusable; ``line`` says where, when one line is to blame."""

    def __init__(self, message: str, *, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class TooLong:
    """Stands for a physical line over LINE_MAX that was skipped; ``quotes`` counts its '"'."""

    quotes: int


def split_lines(stream: IO[bytes], line_max: int = LINE_MAX) -> Iterator[bytes | TooLong]:
    """Physical lines with their ending (LF, CRLF or a lone CR), read in chunks."""
    buf = b""
    skipped: int | None = None  # quotes counted so far in an overlong line being skipped
    while chunk := stream.read(READ_CHUNK):
        buf += chunk
        pos = 0
        for match in _EOL.finditer(buf):
            if match.end() == len(buf) and buf.endswith(b"\r"):
                break  # maybe the first half of a CRLF split across chunks
            line, pos = buf[pos : match.end()], match.end()
            if skipped is not None:
                yield TooLong(skipped + line.count(b'"'))
                skipped = None
            elif len(line) > line_max:
                yield TooLong(line.count(b'"'))
            else:
                yield line
        buf = buf[pos:]
        if len(buf) > line_max:  # no line end in sight: stop holding it
            keep = b"\r" if buf.endswith(b"\r") else b""
            skipped = (skipped or 0) + buf.count(b'"')
            buf = keep
    if skipped is not None:
        yield TooLong(skipped + buf.count(b'"'))
    elif buf:
        yield buf if len(buf) <= line_max else TooLong(buf.count(b'"'))


def split_text_lines(stream: IO[str], line_max: int = LINE_MAX) -> Iterator[str | TooLong]:
    """The same for a text stream (UTF-16 files), opened with newline=''."""
    while line := stream.readline(line_max + 1):
        if len(line) <= line_max or line.endswith(("\n", "\r")):
            yield line if len(line) <= line_max else TooLong(line.count('"'))
            continue
        quotes = line.count('"')
        while (rest := stream.readline(line_max)) and not rest.endswith(("\n", "\r")):
            quotes += rest.count('"')
        yield TooLong(quotes + rest.count('"'))


@dataclass(frozen=True)
class Detected:
    encoding: str  # a Python codec name: utf-8, utf-8-sig, utf-16, cp1252, cp1256
    note: str | None = None  # for the import report when the choice deserves a look


def detect_encoding(opener: Opener) -> Detected:
    """UTF-8 (with or without BOM), UTF-16 (BOM), or Windows-1252 / Windows-1256.

    Valid UTF-8 is recognised exactly (a strict decode of the sample lines; the majority wins,
    the other lines are reported row by row). Otherwise charset-normalizer chooses between the
    two Windows code pages on the lines that are not UTF-8: both decode nearly any byte, and
    only a language-aware detector tells Arabic from accented Latin.
    """
    with opener() as stream:
        head = stream.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return Detected("utf-16")
        bom = head.startswith(codecs.BOM_UTF8)
    sample = _non_ascii_sample(opener)
    utf8 = [line for line in sample if _is_utf8(line)]
    if bom or not sample or len(utf8) * 2 >= len(sample):
        return Detected("utf-8-sig" if bom else "utf-8")
    foreign = [line for line in sample if not _is_utf8(line)]
    # The detector drops a code page as soon as one byte is undefined in it (0x81 in cp1252):
    # it is shown the lines every candidate decodes, so one stray line cannot decide the file.
    common = [line for line in foreign if all(_decodes(line, cp) for cp in SINGLE_BYTE)]
    best = from_bytes(b"\n".join(common or foreign), cp_isolation=list(SINGLE_BYTE)).best()
    encoding = "cp1256" if best is not None and best.encoding == "cp1256" else "cp1252"
    return Detected(
        encoding,
        f"the file is not UTF-8; it was read as {LABELS[encoding]} "
        "(detected): check accented or Arabic names, or save it as "
        "'CSV UTF-8'",
    )


def _decodes(line: bytes, encoding: str) -> bool:
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8(line: bytes) -> bool:
    return _decodes(line, "utf-8")


def _non_ascii_sample(opener: Opener) -> list[bytes]:
    """Whole lines holding non-ASCII bytes, up to SAMPLE_BYTES. Chunks of plain ASCII are
    skipped unsplit, so a large ASCII file costs one read and no per-line work."""
    sample: list[bytes] = []
    size = 0
    with opener() as stream:
        tail = b""
        while chunk := stream.read(READ_CHUNK):
            if chunk.isascii() and tail.isascii():
                tail = b""
                continue
            pieces = (tail + chunk).split(b"\n")
            tail = pieces.pop()  # may be cut in the middle of a character: keep for later
            for piece in pieces:
                if not piece.isascii() and len(piece) <= LINE_MAX:
                    sample.append(piece)
                    size += len(piece)
                    if size >= SAMPLE_BYTES:
                        return sample
            if len(tail) > LINE_MAX:
                tail = b""
        if tail and not tail.isascii():
            sample.append(tail)
    return sample


class TextLines:
    """Decoded physical lines for csv.reader, with what went wrong in the current record.

    ``mark()`` starts a record; afterwards ``bad_line`` is the first of its lines that did not
    decode in the file's encoding (or looked UTF-8 in a Windows code page file: mixed
    encodings), ``long_line`` the first line too long to read, ``quotes`` the '"' seen since.
    """

    def __init__(self, opener: Opener, encoding: str):
        self.encoding = encoding
        self.number = 0  # physical lines handed out so far
        self.quotes = 0
        self.bad_line: int | None = None
        self.long_line: int | None = None
        self._stream = opener()
        if encoding == "utf-16":
            text = io.TextIOWrapper(self._stream, encoding="utf-16", newline="")
            self._lines: Iterator = split_text_lines(text)
        else:
            self._lines = split_lines(self._stream)
        self._single_byte = encoding in SINGLE_BYTE

    def close(self) -> None:
        self._stream.close()

    def mark(self) -> None:
        self.quotes, self.bad_line, self.long_line = 0, None, None

    def __iter__(self) -> TextLines:
        return self

    def __next__(self) -> str:
        try:
            item = next(self._lines)
        except UnicodeDecodeError:
            raise CsvFormatError(
                "the file starts with a UTF-16 mark but is not UTF-16", line=self.number + 1
            ) from None
        self.number += 1
        if isinstance(item, TooLong):
            self.long_line = self.long_line or self.number
            self.quotes += item.quotes
            # Same quote parity as the skipped line, so the CSV parser stays in step.
            return '"\n' if item.quotes % 2 else "\n"
        if isinstance(item, str):
            text = item
        else:
            if self.number == 1 and item.startswith(codecs.BOM_UTF8):
                item = item[len(codecs.BOM_UTF8) :]
            text = self._decode(item)
        self.quotes += text.count('"')
        return text

    def _decode(self, raw: bytes) -> str:
        codec = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            self.bad_line = self.bad_line or self.number
            return raw.decode(codec, "replace")
        if self._single_byte and not raw.isascii() and _is_utf8(raw):
            self.bad_line = self.bad_line or self.number  # UTF-8 pasted into a cp125x file
        return text
