"""The edition's files in ``--out``: edition.json (its format is ``digest.models.edition_to_dict``),
edition.html and edition.txt, each written whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

from digest.errors import DigestError
from digest.models import Edition, edition_to_dict
from digest.private_files import make_private_dir, write_private


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside the target, then rename: a crash never leaves half a file behind. The file
    is 0600 (digest.private_files): it is the message that goes to the subscribers."""
    write_private(path, text.encode("utf-8"))


def write_edition_files(out_dir: Path, edition: Edition, html: str, text: str) -> dict[str, Path]:
    paths = {
        "json": out_dir / "edition.json",
        "html": out_dir / "edition.html",
        "text": out_dir / "edition.txt",
    }
    data = edition_to_dict(edition, html_bytes=len(html.encode("utf-8")))
    try:
        make_private_dir(out_dir)
        write_text_atomic(paths["json"], json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        write_text_atomic(paths["html"], html)
        write_text_atomic(paths["text"], text)
    except OSError as exc:
        raise DigestError(
            f"cannot write the edition files to {out_dir}: "
            f"{exc.strerror or exc}; choose another --out"
        ) from None
    return paths


def write_variant_files(out_dir: Path, locale: str, html: str, text: str) -> dict[str, Path]:
    """Another locale's variant beside the default one: edition.ar.html, edition.ar.txt."""
    paths = {f"html.{locale}": out_dir / f"edition.{locale}.html"}
    paths[f"text.{locale}"] = out_dir / f"edition.{locale}.txt"
    try:
        write_text_atomic(paths[f"html.{locale}"], html)
        write_text_atomic(paths[f"text.{locale}"], text)
    except OSError as exc:
        raise DigestError(
            f"cannot write the edition files to {out_dir}: "
            f"{exc.strerror or exc}; choose another --out"
        ) from None
    return paths
