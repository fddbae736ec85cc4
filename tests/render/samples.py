"""The sample edition (samples/homepage-fr.txt, and its Arabic twin in tests/fixtures) built
from its text dump as `digest build` does, with or without an image and an editor's note."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from digest.config import parse_config
from digest.edition.build import build_edition, preview_values
from digest.models import Edition, Image
from digest.render import Personalizer, render_edition
from tests.conftest import ROOT, SAMPLE, SAMPLE_NOW

from .conftest import ADDRESS, SITE, TZ

DUMPS = {"fr": SAMPLE, "ar": ROOT / "tests" / "fixtures" / "homepage-ar.txt"}
NOTES = {
    "fr": "Bonne lecture : la rédaction vous souhaite une belle journée !\n\nÀ demain.",
    "ar": "قراءة ممتعة! تتمنى لكم هيئة التحرير يوما سعيدا.\n\nإلى الغد.",
}
IMAGE = Image(url="https://www.example.ma/img/une.jpg", alt="", width=1200, height=800)
COMBINATIONS = [(False, False), (True, False), (False, True), (True, True)]  # (image, note)


def sample_config(locale: str):
    name, title = SITE[locale]
    return parse_config(
        {
            "site": {
                "name": name,
                "url": "https://www.example.ma",
                "timezone": TZ,
                "locale": locale,
                "postal_address": ADDRESS,
                "public_url": "https://www.example.ma/digest",
            },
            "sender": {"email": "matinale@example.ma", "name": name},
            "lists": {"matinale": {"title": title}},
            "sources": [{"name": "homepage", "kind": "text", "path": str(DUMPS[locale])}],
        },
        path=None,
        env={},
    )


def sample_edition(locale: str, *, image: bool = False, note: bool = False) -> Edition:
    config = sample_config(locale)
    edition = build_edition(
        config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    ).edition
    if image:
        first = edition.featured[0]
        pictured = dataclasses.replace(first, image=dataclasses.replace(IMAGE, alt=first.title))
        edition = dataclasses.replace(edition, featured=(pictured, *edition.featured[1:]))
    if note:
        edition = dataclasses.replace(edition, note=NOTES[locale])
    return edition


def list_title(locale: str) -> str:
    return SITE[locale][1]


def sample_html(locale: str, *, image: bool = False, note: bool = False) -> str:
    """The email's HTML as a reader gets it (preview values where a subscriber's go)."""
    config = sample_config(locale)
    rendered = render_edition(
        sample_edition(locale, image=image, note=note), config, list_title=list_title(locale)
    )
    html, _ = Personalizer(rendered).fill(preview_values(config, locale))
    return html
