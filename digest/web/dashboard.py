"""The dashboard (``{base}/``, the home page after login): today's and tomorrow's edition of each
list with its state, the next scheduled runs, the sources as the last build read them, and what
needs a person now. Read only; send control is on digest/web/sendpage.py.

The live progress of a sending edition comes from the JSON API's server-sent events
(``/api/editions/{id}/progress/stream``) through a small script of our own (``/send.js``): the
pages that use it allow ``script-src 'self'`` for themselves (``SCRIPT_CSP``); every other page
keeps the app's ``script-src 'none'``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.i18n import N_
from digest.schedule.triggers import next_times
from digest.store.editions import list_editions
from digest.store.overview import editions_by_id, ledger_counts, list_names, recent_ids
from digest.store.overview import source_health as read_source_health
from digest.store.schedules import list_schedules
from digest.web.language import translator
from digest.web.pages import page, state
from digest.web.session import current_user, require_role
from digest.zones import zone

SCRIPT = Path(__file__).resolve().parent / "templates" / "send.js"
SCRIPT_CSP = (
    "default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'self'; form-action 'self'"
)

# A day's column heading, as a CLDR pattern (the words come from the reader's locale).
DAY_FORM = "EEEE d MMMM"

# The state an edition is in, as people name it (the stored status is finer or coarser).
STATES = {
    "none": N_("not built yet"),
    "drafting": N_("draft"),
    "waiting": N_("waiting for approval"),
    "approved": N_("approved"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "paused": N_("paused"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "cancelled": N_("cancelled"),
}


def state_key(row: dict | None) -> str:
    """The dashboard's state of a stored edition (a list_editions row); "none": not stored."""
    if row is None:
        return "none"
    status = row["status"]
    if status == "ready":
        if row["approved_at"] is not None:
            return "approved"
        return "waiting" if row["needs_approval"] else "drafting"
    return status if status in STATES else "drafting"


def _done(counts: dict[str, int]) -> int:
    return sum(n for k, n in counts.items() if k not in ("pending", "sending"))


def _days(web, now: datetime) -> list[datetime]:
    """Today and tomorrow in the site's zone, as their local noons (for ``when``)."""
    local = now.astimezone(zone(web.config.site.timezone))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    return [noon, noon + timedelta(days=1)]


def overview(web, now: datetime) -> dict:
    """Everything the dashboard shows, read in a handful of queries (in a worker thread)."""
    db = web.db
    schedules = list_schedules(db)
    names = sorted({*web.config.lists, *(s.list_name for s in schedules), *list_names(db)})
    days = _days(web, now)
    ids = [f"{name}-{day.date().isoformat()}" for name in names for day in days]
    rows = editions_by_id(db, ids)
    recent = recent_ids(db, limit=10)  # the ledger counts cost a scan of each edition's rows
    counts = ledger_counts(db, sorted({*rows, *recent}))
    by_list = []
    for name in names:
        cells = []
        for day in days:
            edition_id = f"{name}-{day.date().isoformat()}"
            row = rows.get(edition_id)
            key = state_key(row)
            ran = [s for s in schedules if s.list_name == name and s.last_edition_id is None]
            failed_run = next(
                (
                    s
                    for s in ran
                    if s.last_status == "failed"
                    and s.last_run_at is not None
                    and s.last_run_at.astimezone(zone(s.timezone)).date() == day.date()
                ),
                None,
            )
            if row is None and failed_run is not None:
                key = "failed"
            c = counts.get(edition_id, {})
            cells.append(
                {
                    "day": day,
                    "id": edition_id,
                    "row": row,
                    "state": key,
                    "reason": (row or {}).get("reason")
                    or (failed_run.last_reason if failed_run else None),
                    "counts": c,
                    "total": sum(c.values()),
                    "done": _done(c),
                }
            )
        by_list.append({"name": name, "days": cells})
    upcoming: list[dict[str, Any]] = []
    for s in schedules:
        draft, send = (None, None) if s.paused else next_times(s, now)
        upcoming.append({"schedule": s, "draft": draft, "send": send})
    upcoming.sort(key=lambda u: (u["send"] is None, u["send"] or now, u["schedule"].name))
    return {
        "days": days,
        "lists": by_list,
        "upcoming": upcoming,
        "sources": read_source_health(db),
        "attention": attention(db, counts),
    }


def attention(db, counts: dict[str, dict[str, int]]) -> list[dict]:
    """What needs a person now: drafts waiting for approval, paused sends, and editions with
    failed or unknown deliveries (may have arrived or not: resend only on purpose)."""
    out = []
    for row in list_editions(db, limit=30):
        key = state_key(row)
        c = counts.get(row["id"], {})
        needs = []
        if key == "waiting":
            needs.append(N_("waits for approval"))
        if key == "paused":
            needs.append(N_("paused"))
        if c.get("failed"):
            needs.append(N_("failed deliveries"))
        if c.get("unknown"):
            needs.append(N_("unknown deliveries"))
        if needs:
            out.append({"row": row, "state": key, "needs": needs, "counts": c})
    return out


def labels(request: Request) -> dict[str, str]:
    """The states' names in the page's language (the script shows them too)."""
    _ = translator(request)
    out = {key: _.gettext(label) for key, label in STATES.items()}
    out["ready"] = out["approved"]  # the script's status: a started send not claimed yet
    return out


async def dashboard(request: Request) -> Response:
    if current_user(request) is None:  # anonymous: the public archive, as before
        return RedirectResponse(f"{state(request).base}/archive", 303)
    require_role(request, "editor")
    web = state(request)
    data = await run_in_threadpool(overview, web, datetime.now(UTC))
    return page(
        request,
        "dashboard.html",
        {**data, "labels": labels(request), "day_form": DAY_FORM},
        headers={"Content-Security-Policy": SCRIPT_CSP},
    )


async def script(request: Request) -> Response:
    """The progress script (no secret in it; cached like any static file)."""
    return Response(
        SCRIPT.read_text(encoding="utf-8"),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


routes = [
    Route("/", dashboard),
    Route("/send.js", script),
]
