"""Hostile ZIP archives given to the subscriber import (no database: the reading side)."""

import pytest

from digest.store import csvzip
from digest.store.csvio import CsvFormatError, open_subscriber_files
from tests.hostile.csv_files import mailchimp_zip, zip_bytes


def test_mailchimp_zip_yields_its_three_files_opt_outs_first(tmp_path):
    streams = open_subscriber_files(mailchimp_zip(tmp_path, **{"readme.txt": b"hello"}))
    assert [s.result.source for s in streams] == [
        "cleaned_members_export_3f9a1c2b7e.csv",
        "unsubscribed_members_export_3f9a1c2b7e.csv",
        "subscribed_members_export_3f9a1c2b7e.csv",
    ]
    rows = [list(s) for s in streams]
    assert [s.result.format for s in streams] == [
        "Mailchimp audience export (cleaned members)",
        "Mailchimp audience export (unsubscribed members)",
        "Mailchimp audience export (subscribed members)",
    ]
    assert [len(r) for r in rows] == [1, 2, 4]
    assert "ignored in the ZIP (not .csv): 'readme.txt'" in streams[0].result.notes


def test_zip_bomb_stops_at_the_decompressed_cap(monkeypatch):
    # Attack: 64 MB of zeros compress to ~64 KB. The cap is lowered for the test; the member
    # is read through a counter, whatever size the ZIP's own header claims.
    monkeypatch.setattr(csvzip, "MEMBER_MAX", 8 * 1024 * 1024)
    data = zip_bytes({"subscribed.csv": b"email\n" + b"0" * 64 * 1024 * 1024})
    assert len(data) < 200_000
    (stream,) = open_subscriber_files(data)
    with pytest.raises(CsvFormatError, match="unpacks to more than 8 MiB: refused"):
        list(stream)


@pytest.mark.parametrize(
    "name",
    [
        "../../evil.csv",
        "/etc/cron.d/evil.csv",
        "a/../../b.csv",
        "C:/Windows/evil.csv",
        "__MACOSX/._subscribed.csv",
        ".hidden.csv",
        "nested.zip",
        "subscribed.csv.exe",
    ],
)
def test_path_tricks_and_non_csv_members_are_ignored_not_read(tmp_path, name):
    # Nothing is ever extracted; such members are listed as ignored and not imported.
    data = zip_bytes({name: b"email\nintruder@example.com\n", "ok.csv": b"email\na@example.com\n"})
    streams = open_subscriber_files(data)
    assert [s.result.source for s in streams] == ["ok.csv"]
    assert [r.email for r in streams[0]] == ["a@example.com"]
    assert repr(name) in streams[0].result.notes[0]
    assert list(tmp_path.iterdir()) == []


def test_a_zip_without_csv_is_one_sentence():
    with pytest.raises(CsvFormatError, match=r"the ZIP holds no \.csv file \(found 'a.txt'\)"):
        open_subscriber_files(zip_bytes({"a.txt": b"x"}))


def test_an_xlsx_workbook_is_still_named_as_such():
    data = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"})
    with pytest.raises(CsvFormatError, match="spreadsheet workbook"):
        open_subscriber_files(data)


def test_an_encrypted_member_is_refused():
    # zipfile cannot write encrypted members: set the "encrypted" flag bit by hand, in the
    # local header (offset 6) and the central directory entry (offset 8), as a password-
    # protected export has it.
    data = bytearray(zip_bytes({"subscribed.csv": b"email\na@example.com\n"}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1
    with pytest.raises(CsvFormatError, match="is encrypted"):
        open_subscriber_files(bytes(data))


def test_a_corrupted_member_is_a_sentence_not_a_traceback():
    data = bytearray(zip_bytes({"s.csv": b"email\n" + b"a@example.com\n" * 2000}))
    middle = data.index(b"s.csv") + 40  # inside the compressed data
    data[middle : middle + 30] = b"\xff" * 30
    with pytest.raises(CsvFormatError, match="damaged"):
        for stream in open_subscriber_files(bytes(data)):
            list(stream)


def test_too_many_members_is_refused():
    members = {f"part{i}.csv": b"email\na@example.com\n" for i in range(csvzip.MEMBERS_MAX + 1)}
    with pytest.raises(CsvFormatError, match="more than 20 CSV files"):
        open_subscriber_files(zip_bytes(members))


def test_an_unusable_member_is_named_in_the_error():
    streams = open_subscriber_files(
        zip_bytes({"a.csv": b"email\nx@example.com\n", "b.csv": b"nom,ville\nX,Rabat\n"})
    )
    assert [r.email for r in streams[0]] == ["x@example.com"]
    with pytest.raises(CsvFormatError, match=r"^b\.csv: line 1: the header has no email col"):
        list(streams[1])
