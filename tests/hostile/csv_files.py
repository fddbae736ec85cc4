"""Helpers for the tests/hostile/test_csv_*.py files: fixture paths and ZIP archives."""

import io
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "csv"
MAILCHIMP = FIXTURES / "mailchimp"


def zip_bytes(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def mailchimp_zip(tmp_path: Path, **extra: bytes) -> Path:
    """The audience export as Mailchimp ships it: one ZIP of three CSV files."""
    members = {path.name: path.read_bytes() for path in sorted(MAILCHIMP.glob("*.csv"))}
    members.update(extra)
    path = tmp_path / "audience_export_3f9a1c2b7e.zip"
    path.write_bytes(zip_bytes(members))
    return path
