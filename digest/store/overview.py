"""What the dashboard reads in a few queries: editions by id, the ledger's failed and unknown
rows of recent editions, and each list's sources as its newest edition's build saw them.

Aggregates and ids only (no address): the dashboard is shown to every editor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from digest.store import schema as t
from digest.store.db import Database


def editions_by_id(db: Database, ids: list[str]) -> dict[str, dict]:
    """{id: the row list_editions gives} for the stored ones among ``ids``."""
    if not ids:
        return {}
    e, lists = t.editions, t.lists
    stmt = (
        select(
            e.c.id,
            lists.c.name.label("list_name"),
            e.c.status,
            e.c.subject,
            e.c.reason,
            e.c.backend,
            e.c.needs_approval,
            e.c.approved_at,
            e.c.approved_by,
            e.c.created_at,
            e.c.started_at,
            e.c.finished_at,
        )
        .join(lists, lists.c.id == e.c.list_id)
        .where(e.c.id.in_(ids))
    )
    with db.read() as conn:
        return {r.id: dict(r._mapping) for r in conn.execute(stmt)}


def ledger_counts(db: Database, ids: list[str]) -> dict[str, dict[str, int]]:
    """{edition id: {ledger state: rows}} for ``ids`` (one grouped query on the ledger's
    (edition_id, id) index)."""
    if not ids:
        return {}
    d = t.deliveries
    stmt = (
        select(d.c.edition_id, d.c.status, func.count())
        .where(d.c.edition_id.in_(ids))
        .group_by(d.c.edition_id, d.c.status)
    )
    out: dict[str, dict[str, int]] = {i: {} for i in ids}
    with db.read() as conn:
        for edition_id, status, n in conn.execute(stmt):
            out[edition_id][status] = int(n)
    return out


def recent_ids(db: Database, limit: int = 30) -> list[str]:
    """The ids of the newest editions (by creation), for what needs a person now."""
    e = t.editions
    with db.read() as conn:
        return list(conn.scalars(select(e.c.id).order_by(e.c.created_at.desc()).limit(limit)))


@dataclass(frozen=True)
class SourceState:
    list_name: str
    edition_id: str
    built_at: datetime  # when that edition was built (its sources read)
    name: str
    ok: bool
    error: str | None
    stories: int


def source_health(db: Database) -> list[SourceState]:
    """Each source of each list's newest edition, as that build read it (ok or why not)."""
    e, lists = t.editions, t.lists
    newest = select(e.c.list_id, func.max(e.c.id).label("id")).group_by(e.c.list_id).subquery()
    stmt = (
        select(lists.c.name, e.c.id, e.c.created_at, e.c.edition_json)
        .join(newest, newest.c.id == e.c.id)
        .join(lists, lists.c.id == e.c.list_id)
        .order_by(lists.c.name)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        for s in json.loads(r.edition_json).get("sources", ()):
            if not isinstance(s, dict):
                continue
            error = s.get("error")
            out.append(
                SourceState(
                    list_name=r.name,
                    edition_id=r.id,
                    built_at=r.created_at,
                    name=str(s.get("name", "")),
                    ok=error is None and bool(s.get("ok", True)),
                    error=str(error) if error else None,
                    stories=int(s.get("stories") or 0),
                )
            )
    return out


def list_names(db: Database) -> list[str]:
    """Every list's name (no member counts: those cost a scan of a large audience)."""
    with db.read() as conn:
        return list(conn.scalars(select(t.lists.c.name).order_by(t.lists.c.name)))
