"""Editions built directly from digest.models, and configs built without a file."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.config import parse_config
from digest.models import Edition, Image, Story

TZ = "Africa/Casablanca"
REF = datetime(2025, 7, 1, 7, 0, tzinfo=ZoneInfo(TZ))
SITE = {
    "fr": ("L'Écho de Casablanca", "La matinale"),
    "en": ("The Casablanca Echo", "Morning Brief"),
    "ar": ("صدى الدار البيضاء", "الصباحية"),
}
ADDRESS = "L'Écho de Casablanca, 12 boulevard d'Anfa, 20000 Casablanca, Maroc"


def make_config(
    locale: str = "fr",
    *,
    theme: dict | None = None,
    templates_dir=None,
    max_html_bytes: int | None = None,
    **edition,
):
    data = {
        "site": {
            "name": SITE.get(locale, SITE["en"])[0],
            "url": "https://www.example.ma",
            "timezone": TZ,
            "locale": locale,
            "postal_address": ADDRESS,
            "public_url": "https://www.example.ma/digest",
        },
        "sender": {"email": "matinale@example.ma", "name": "L'Écho"},
        "theme": dict(theme or {}),
        "edition": dict(edition),
    }
    if max_html_bytes is not None:
        data["edition"]["max_html_bytes"] = max_html_bytes
    if templates_dir is not None:
        data["templates_dir"] = str(templates_dir)
    return parse_config(data, path=None, env={})


def ticker_story(
    i: int,
    *,
    title: str | None = None,
    url: str | None = "auto",
    published_at: datetime | None | str = "auto",
) -> Story:
    return Story(
        title=title if title is not None else f"Dépêche numéro {i} sur l'actualité du jour",
        role="ticker",
        source="homepage",
        url=f"https://www.example.ma/depeche/{i}?src=digest&n={i}" if url == "auto" else url,
        published_at=REF - timedelta(minutes=11 * i + 1)
        if published_at == "auto"
        else published_at,
    )


def featured_story(
    *,
    title: str = "Le port de Casablanca agrandi",
    paragraphs=None,
    url: str | None = "https://www.example.ma/une/port",
    image: Image | None | str = "auto",
    summary_html: str | None = None,
) -> Story:
    if paragraphs is None:
        paragraphs = (
            "Les travaux d'agrandissement du port commencent ce lundi, pour trois ans.",
            "Le chantier doit doubler la capacité du terminal à conteneurs.",
            "Les riverains ont été informés lors d'une réunion publique.",
        )
    if image == "auto":
        image = Image(
            url="https://www.example.ma/img/port.jpg",
            alt="Le port au lever du jour",
            width=1200,
            height=800,
        )
    return Story(
        title=title,
        role="featured",
        source="homepage",
        url=url,
        published_at=REF,
        paragraphs=tuple(paragraphs),
        image=image,
        summary_html=summary_html,
    )


def make_edition(
    locale: str = "fr",
    *,
    ticker=None,
    featured=None,
    note: str | None = None,
    preheader: str = "Le port de Casablanca agrandi, et 12 autres titres",
    subject: str = "L'Écho de Casablanca — La matinale du mardi 1 juillet",
) -> Edition:
    return Edition(
        id="2025-07-01-matinale",
        list_name="matinale",
        subject=subject,
        preheader=preheader,
        locale=locale,
        timezone=TZ,
        reference_time=REF,
        window_start=REF - timedelta(hours=24),
        ticker=tuple(ticker if ticker is not None else (ticker_story(i) for i in range(12))),
        featured=tuple(featured if featured is not None else (featured_story(),)),
        note=note,
    )


VALUES = {
    "greeting": "Bonjour Amina,",
    "unsubscribe_url": "https://www.example.ma/digest/u/Zx9_kQ?list=matinale&v=1",
    "preferences_url": "https://www.example.ma/digest/p/Zx9_kQ",
}


@pytest.fixture
def config():
    return make_config("fr")


@pytest.fixture
def edition():
    return make_edition("fr")
