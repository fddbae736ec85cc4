"""Revision 0008: the edition_variants table; an edition stored by 0007 (no variants) reads as
it did, and a variant row can then be stored beside it."""

import json

from alembic import command
from sqlalchemy import func, insert, select

from digest.store import revision
from digest.store import schema as t
from digest.store.db import open_database
from digest.store.editions import get_edition
from digest.store.revision import upgrade_schema

EDITION = {
    "format": 1,
    "id": "m-2026-01-01",
    "list": "m",
    "subject": "La une",
    "preheader": "La une + 2 brèves",
    "locale": "fr",
    "direction": "ltr",
    "timezone": "Africa/Casablanca",
    "reference_time": "2026-01-01T07:00:00+01:00",
    "window_start": "2025-12-31T07:00:00+01:00",
    "note": None,
    "ticker": [],
    "featured": [
        {"title": "La une", "url": None, "published_at": None, "source": "s", "paragraphs": []}
    ],
}
TOKENS = {"tokens": {"html": {}, "text": {}}, "locale": "fr", "direction": "ltr", "warnings": []}


def test_0008_adds_edition_variants_and_an_old_edition_still_loads(url):
    with open_database(url, check_schema=False) as db:
        with db.migrating() as conn:
            command.upgrade(revision.alembic_config(conn), "0007")
            now = t.utcnow()
            conn.execute(insert(t.lists).values(id=1, name="m", title="M", created_at=now))
            conn.execute(
                insert(t.editions).values(
                    id="m-2026-01-01",
                    list_id=1,
                    status="sent",
                    needs_approval=False,
                    subject="La une",
                    edition_json=json.dumps(EDITION),
                    html="<html lang=fr>",
                    text="t",
                    tokens_json=json.dumps(TOKENS),
                    created_at=now,
                    finished_at=now,
                )
            )
        upgrade_schema(db)
    with open_database(url) as db:
        stored = get_edition(db, "m-2026-01-01")
        assert stored is not None and stored.status == "sent" and stored.variants == ()
        assert stored.rendered.html == "<html lang=fr>" and stored.edition.locale == "fr"
        assert [v.locale for v in stored.all_variants()] == ["fr"]
        with db.write() as conn:
            conn.execute(
                insert(t.edition_variants).values(
                    edition_id="m-2026-01-01",
                    locale="ar",
                    subject="الأولى",
                    html="<html lang=ar dir=rtl>",
                    text="t",
                    tokens_json=json.dumps({**TOKENS, "locale": "ar", "direction": "rtl"}),
                )
            )
            assert conn.scalar(select(func.count()).select_from(t.edition_variants)) == 1
            # The variant goes with its edition (ON DELETE CASCADE).
            conn.execute(t.editions.delete())
            assert conn.scalar(select(func.count()).select_from(t.edition_variants)) == 0
