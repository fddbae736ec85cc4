"""The ``edition.json`` contract: what other tools read. Add keys freely; never rename or drop one.

Required by DESIGN.md: id, subject, preheader, locale, timezone, ticker[] (title, url,
published_at) and featured[] (title, url, published_at, paragraphs). ``published_at`` is ISO 8601
with the site's offset, or null for a story its source gave no date.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from digest.errors import DigestError
from digest.models import Edition, Image, Role, SourceResult, Story
from digest.private_files import make_private_dir, write_private

FORMAT_VERSION = 1


def edition_to_dict(edition: Edition, *, html_bytes: int | None = None) -> dict:
    return {
        "format": FORMAT_VERSION,
        "id": edition.id,
        "list": edition.list_name,
        "subject": edition.subject,
        "preheader": edition.preheader,
        "locale": edition.locale,
        "direction": edition.direction,
        "timezone": edition.timezone,
        "reference_time": edition.reference_time.isoformat(),
        "window_start": edition.window_start.isoformat(),
        "note": edition.note,
        "ticker": [_story(s) for s in edition.ticker],
        "featured": [_story(s) for s in edition.featured],
        "sources": [_source(r) for r in edition.sources],
        "warnings": list(edition.warnings),
        **({"html_bytes": html_bytes} if html_bytes is not None else {}),
        **({"build_seconds": edition.build_seconds} if edition.build_seconds is not None
           else {}),
    }


def edition_from_dict(data: dict) -> Edition:
    """Read back an edition.json (drafts kept for editors, replays)."""
    return Edition(
        id=data["id"],
        list_name=data.get("list", data["id"].rsplit("-", 3)[0]),
        subject=data["subject"],
        preheader=data["preheader"],
        locale=data["locale"],
        timezone=data["timezone"],
        reference_time=datetime.fromisoformat(data["reference_time"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        ticker=tuple(_read_story(s, "ticker") for s in data["ticker"]),
        featured=tuple(_read_story(s, "featured") for s in data["featured"]),
        warnings=tuple(data.get("warnings", ())),
        note=data.get("note"),
        build_seconds=data.get("build_seconds"),
    )


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
        raise DigestError(f"cannot write the edition files to {out_dir}: "
                          f"{exc.strerror or exc}; choose another --out") from None
    return paths


def _story(story: Story) -> dict:
    out: dict[str, object] = {
        "title": story.title,
        "url": story.url,
        "published_at": story.published_at.isoformat() if story.published_at else None,
        "source": story.source,
    }
    if story.role == "featured" or story.paragraphs:
        out["paragraphs"] = list(story.paragraphs)
    if story.summary_html:
        out["summary_html"] = story.summary_html
    if story.image:
        out["image"] = {
            "url": story.image.url,
            "alt": story.image.alt,
            "width": story.image.width,
            "height": story.image.height,
        }
    return out


def _read_story(data: dict, role: Role) -> Story:
    image = data.get("image")
    return Story(
        title=data["title"],
        role=role,
        source=data.get("source", ""),
        url=data.get("url"),
        published_at=datetime.fromisoformat(data["published_at"]) if data.get("published_at")
        else None,
        paragraphs=tuple(data.get("paragraphs", ())),
        summary_html=data.get("summary_html"),
        image=Image(**image) if image else None,
    )


def _source(result: SourceResult) -> dict:
    return {
        "name": result.name,
        "ok": result.ok,
        "stories": len(result.stories),
        "error": result.error,
        "warnings": list(result.warnings),
    }
