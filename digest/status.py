"""The operating state of one database, for ``/healthz`` and ``digest health --json``.

"Healthy" here means the service can work: the database answers and its schema is the one this
code expects. Whether the last editions went well is reported alongside (and judged by
``digest health``), but does not make a load balancer drop a web app that can still serve.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from digest.store import stats
from digest.store.readerzones import deadline_missed
from digest.store.revision import schema_status
from digest.store.schedules import LEASE_STALE, lease_holder

log = logging.getLogger("digest.status")


def schema_state(db) -> dict:
    """{"revision": the database's schema revision, "head": this code's, "current": bool}.

    The one place /healthz and ``health --json`` learn whether the schema is the one this code
    expects (Alembic's revision, through ``digest.store.revision``). A table missing although
    the revision is current (dropped by hand) also counts as not current.
    """
    status = schema_status(db.engine)
    missing = stats.missing_tables(db)
    out: dict[str, object] = {
        "revision": status.current,
        "head": status.head,
        "current": status.up_to_date and not missing,
    }
    if missing:
        out["missing_tables"] = missing
    return out


def snapshot(db, now: datetime, *, detail: bool = False) -> dict:
    """What a monitor wants to know, as one JSON-ready object; ``ok`` is the verdict.

    ``detail`` adds the database error text (for the operator's own terminal: a public
    ``/healthz`` says only "unavailable").
    """
    try:
        return _answering(db, now, detail)
    except SQLAlchemyError as exc:
        log.warning(
            "health check: the database does not answer: %s", getattr(exc, "orig", None) or exc
        )
        out = {
            "ok": False,
            "database": "unavailable",
            "revision": None,
            "schema_current": None,
            "scheduler": None,
            "lists": [],
        }
        if detail:
            out["error"] = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return out


def _answering(db, now: datetime, detail: bool) -> dict:
    stats.ping(db)
    schema = schema_state(db)
    if not schema["current"]:  # the queries below would fail on a schema they do not know
        return {
            "ok": False,
            "database": "ok",
            "revision": schema["revision"],
            "schema_current": False,
            "schema": schema,
            "scheduler": None,
            "lists": [],
        }
    return {
        "ok": True,
        "database": "ok",
        "revision": schema["revision"],
        "schema_current": True,
        **({"schema": schema} if detail else {}),
        "scheduler": _lease(db, now),
        "lists": [
            {**_edition(e), "deadline_missed": deadline_missed(db, e.id)}
            for e in stats.latest_editions(db)
        ],
    }


def _lease(db, now: datetime) -> dict | None:
    lease = lease_holder(db)
    if lease is None:
        return None
    age = (now - lease.heartbeat_at).total_seconds()
    return {
        "holder": lease.owner,
        "started_at": lease.started_at.isoformat(),
        "heartbeat_at": lease.heartbeat_at.isoformat(),
        "age_seconds": round(age, 1),
        "stale": age > LEASE_STALE.total_seconds(),
    }


def _edition(e: stats.LatestEdition) -> dict:
    status = e.status
    if status == "ready" and e.needs_approval and not e.approved:
        status = "ready, not approved"
    return {
        "list": e.list_name,
        "edition": e.id,
        "status": status,
        "created_at": e.created_at.isoformat(),
        "finished_at": e.finished_at.isoformat() if e.finished_at else None,
        "sources_failed": sum(1 for _, ok in e.sources if not ok),
    }
