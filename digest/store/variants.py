"""How an edition's rendering is stored: the editions row's columns for the list's default
locale, and one edition_variants row per other locale (its stories live in the editions row's
edition_json, under "variants"); and who read which locale."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, insert, select

from digest.headers import SUBJECT_MAX, header_text
from digest.models import Edition, Rendered, Variant, edition_to_dict
from digest.store import schema as t
from digest.store.db import Database


def write_variants(conn, edition_id: str, variants: tuple[Variant, ...]) -> None:
    v = t.edition_variants
    conn.execute(delete(v).where(v.c.edition_id == edition_id))
    for variant in variants:
        row = rendering_row(variant.edition, variant.rendered)
        del row["edition_json"]  # the variant's stories are in the editions row's edition_json
        conn.execute(insert(v).values(edition_id=edition_id, locale=variant.locale, **row))


def read_variants(conn, edition: Edition) -> tuple[Variant, ...]:
    if not edition.variants:
        return ()
    v = t.edition_variants
    rows = {r.locale: r for r in conn.execute(select(v).where(v.c.edition_id == edition.id)).all()}
    return tuple(
        Variant(e, rendered_from_row(rows[e.locale], e))
        for e in edition.variants
        if e.locale in rows
    )


def rendered_from_row(row, edition: Edition) -> Rendered:
    extra = json.loads(row.tokens_json)
    return Rendered(
        html=row.html,
        text=row.text,
        subject=edition.subject,
        preheader=edition.preheader,
        warnings=tuple(extra.get("warnings", ())),
        tokens=extra["tokens"],
        locale=extra.get("locale", edition.locale),
        direction=extra.get("direction", "ltr"),
    )


def rendering_row(edition: Edition, rendered: Rendered) -> dict:
    return {
        # The column is for listings; bounded whatever the edition's source (a JSON file, an
        # old build): String(1000) makes PostgreSQL refuse a longer one and lose the send.
        "subject": header_text(edition.subject, SUBJECT_MAX),
        "edition_json": json.dumps(edition_to_dict(edition), ensure_ascii=False),
        "html": rendered.html,
        "text": rendered.text,
        "tokens_json": json.dumps(
            {
                "tokens": rendered.tokens,
                "locale": rendered.locale,
                "direction": rendered.direction,
                "warnings": list(rendered.warnings),
            }
        ),
    }


def reader_locales_of(db: Database, edition_id: str) -> dict[str | None, int]:
    """The edition's ledger rows by their reader's locale (which variant each got, once matched
    against the edition's variants)."""
    d, s = t.deliveries, t.subscribers
    stmt = (
        select(s.c.locale, func.count())
        .join(s, s.c.id == d.c.subscriber_id)
        .where(d.c.edition_id == edition_id)
        .group_by(s.c.locale)
    )
    with db.read() as conn:
        return {locale: int(n) for locale, n in conn.execute(stmt)}
