"""Attacks on what a source is: binary files given as a feed, page or text dump.

Before, a PNG given with --source was decoded with replacement characters and read as a
text dump: hundreds of junk "stories" in the morning email. Now it is one sentence.
"""

import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest.config import SourceConfig, source_from_location
from digest.sources import Fetcher, read_source
from digest.sources.detect import binary_kind
from tests.cli.test_cli import digest
from tests.conftest import SAMPLE, SAMPLE_NOW

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
FEED = (ROOT / "tests" / "fixtures" / "feeds" / "feed-test-source.xml").read_bytes()
NOT_A_SOURCE = "not a feed, page or text dump."


def read(cfg, fetcher=None):
    return read_source(
        cfg,
        reference_time=datetime(2025, 7, 1, 8, 0),
        tz=ZoneInfo("Africa/Casablanca"),
        site_url="https://news.example",
        fetcher=fetcher or Fetcher("t"),
    )


def served(body, content_type=None):
    headers = {"content-type": content_type} if content_type else {}
    return Fetcher(
        "t",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body, headers=headers)),
    )


@pytest.mark.parametrize(
    "name, what",
    [
        ("logo.png", "a PNG image"),
        ("report.pdf", "a PDF document"),
        ("dump.zip", "a ZIP archive (or an Office document)"),
    ],
)
@pytest.mark.parametrize("kind", ["auto", "text", "rss", "page"])
def test_binary_file_as_a_source_is_refused_whatever_its_kind(name, what, kind):
    """Attack: --source logo.png, or a [[sources]] entry of any kind pointing at one."""
    path = FIXTURES / name
    cfg = (
        source_from_location(str(path))
        if kind == "auto"
        else SourceConfig(
            name="s",
            kind=kind,
            location=str(path),
            selectors={"ticker_item": "li"} if kind == "page" else {},
        )
    )
    result = read(cfg)
    assert result.stories == ()
    assert result.error == f"Source '{cfg.name}': {path} is {what}, {NOT_A_SOURCE}"


@pytest.mark.parametrize(
    "body, what",
    [
        ((FIXTURES / "logo.png").read_bytes(), "is a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "is a JPEG image"),
        (b"GIF89a\x01\x00\x01\x00", "is a GIF image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "is a WebP image"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "is a gzip archive"),
        (b"\x7fELF\x02\x01\x01", "is an executable"),
        (b"\x00\x00\x00\x18ftypmp42", "is an MP4/QuickTime media file"),
        (b"BZh91AY&SY\x00", "is a bzip2 archive"),
        (b"plain text\x00with a NUL" * 10, "is binary data (it contains NUL bytes)"),
        (bytes(range(1, 32)) * 20, "is binary data (control bytes throughout)"),
    ],
)
def test_magic_bytes_and_binary_content_are_recognised(body, what):
    assert binary_kind(body) == what


@pytest.mark.parametrize(
    "body",
    [
        FEED,
        (ROOT / "samples" / "homepage-fr.txt").read_bytes(),
        "- 07:30ﾃｩtﾃｩ — Dépêche\fpage\x1b[0m".encode(),  # odd but text: a form feed, an escape
        "<?xml version='1.0' encoding='utf-16'?><rss/>".encode("utf-16"),  # NULs, with a BOM
        "<rss version='2.0'/>".encode("utf-16-le"),  # NULs, no BOM: still a document
        "Édition du matin".encode("latin-1"),  # not UTF-8, still text
        b"BMW wins the race\n",  # not a bitmap: "BM" alone is no signature
    ],
)
def test_text_feeds_and_pages_are_not_mistaken_for_binary(body):
    """No false alarm: feeds, dumps, UTF-16, Latin-1 and text that starts like a signature."""
    assert binary_kind(body) is None


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "application/pdf", "application/zip", "video/mp4", "application/vnd.ms-excel"],
)
def test_url_served_as_a_binary_type_is_refused(content_type):
    """Attack: a URL source that answers with an image, a PDF, an archive..."""
    result = read(
        SourceConfig(name="u", kind="auto", location="https://x.example/f"),
        served(b"anything at all", content_type + "; charset=utf-8"),
    )
    assert result.error == (
        f"Source 'u': https://x.example/f is served as {content_type}, {NOT_A_SOURCE}"
    )


def test_url_serving_png_bytes_as_text_is_refused_by_its_bytes():
    """Attack: the server lies in Content-Type (text/plain) and sends a PNG."""
    result = read(
        SourceConfig(name="u", kind="text", location="https://x.example/dump.txt"),
        served((FIXTURES / "logo.png").read_bytes(), "text/plain"),
    )
    assert result.error == f"Source 'u': https://x.example/dump.txt is a PNG image, {NOT_A_SOURCE}"


def test_octet_stream_is_judged_by_its_bytes():
    """Unlabelled (application/octet-stream) is common for files on object storage: a feed
    so labelled is read, a PNG so labelled is refused."""
    cfg = SourceConfig(name="u", kind="auto", location="https://x.example/f")
    assert read(cfg, served(FEED, "application/octet-stream")).ok
    png = read(cfg, served((FIXTURES / "logo.png").read_bytes(), "application/octet-stream"))
    assert png.error == f"Source 'u': https://x.example/f is a PNG image, {NOT_A_SOURCE}"


def test_svg_is_xml_not_an_image_to_refuse():
    assert binary_kind(b"<svg/>", "image/svg+xml") is None


def test_build_with_a_png_source_mails_no_junk_stories(site, tmp_path):
    """The reported case end to end: digest build --source logo.png --source homepage."""
    proc = digest(
        "build",
        "--source",
        str(FIXTURES / "logo.png"),
        "--source",
        str(SAMPLE),
        "--now",
        SAMPLE_NOW,
        cwd=tmp_path,
        env_extra={"DIGEST_CONFIG": str(site), "PATH": os.environ["PATH"]},
    )
    said = " ".join(proc.stderr.split())  # the console wraps long lines
    assert "logo.png is a PNG image, not a feed, page or text dump" in said
    data = json.loads((tmp_path / "out" / "edition.json").read_text(encoding="utf-8"))
    assert len(data["ticker"]) == 9  # the sample's, and nothing from the PNG
    assert [s["ok"] for s in data["sources"]] == [False, True]
