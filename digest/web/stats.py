"""What readers did: ``{prefix}/stats`` (each list's last 30 editions, a table and an SVG chart)
and ``{prefix}/stats/{edition_id}`` (one edition's figures and its clicks per story), each with a
``.csv`` twin. Admins only. The figures come from digest/store/readers.py (SQL aggregates)."""

from __future__ import annotations

import csv
import io
from datetime import date

from babel.dates import format_date
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.i18n import N_
from digest.store import readers
from digest.store.editions import get_edition
from digest.web.chart import svg
from digest.web.language import page_language, translator
from digest.web.pages import page, state
from digest.web.session import require_role
from digest.web.when import When

COLUMNS = (
    "edition",
    "list",
    "sent_at",
    "subject",
    "sent",
    "failed",
    "delivered",
    "unique_opens",
    "machine_opens",
    "unique_clicks",
    "clicks",
    "click_through",
    "unsubscribes",
    "bounces",
    "complaints",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection


def _trends(db) -> list[tuple[str, list[readers.Figures]]]:
    return [(name, readers.trend(db, name)) for name in readers.list_names(db)]


async def overview(request: Request) -> Response:
    require_role(request, "admin")
    web = state(request)
    trends = await run_in_threadpool(_trends, web.db)
    _ = translator(request).gettext
    when = When(web.config.site.timezone, page_language(request))
    charts = {
        name: svg(
            figures,
            chart_id=f"chart-{n}",
            title=_("Open rate and click-through of the last editions of %(list)s")
            % {"list": name},
            description=_(
                "Two bars per edition, oldest first: unique opens and unique clicks as a share "
                "of delivered messages. The table below gives every figure."
            ),
            legend=(_("Open rate"), _("Click-through")),
            label=lambda f: _day(f, when),
        )
        for n, (name, figures) in enumerate(trends)
        if figures
    }
    return page(request, "stats.html", {"trends": trends, "charts": charts})


async def edition(request: Request) -> Response:
    require_role(request, "admin")
    web = state(request)
    edition_id = request.path_params["edition_id"]
    figures = await run_in_threadpool(readers.edition_figures, web.db, edition_id)
    if figures is None:
        raise HTTPException(404, N_("There is no such edition."))
    links = await run_in_threadpool(readers.link_clicks, web.db, edition_id)
    stored = await run_in_threadpool(get_edition, web.db, edition_id)
    titles: dict[str, str] = {}
    if stored is not None:
        for v in stored.all_variants():
            for s in (*v.edition.featured, *v.edition.ticker):
                if s.url:
                    titles.setdefault(s.url, s.title)
    return page(request, "stats_edition.html", {"f": figures, "links": links, "titles": titles})


def _day(f: readers.Figures, when: When) -> str:
    """The chart's label of an edition: its day (ids end in YYYY-MM-DD), else when it was sent."""
    try:
        day = date.fromisoformat(f.edition_id[-10:])
    except ValueError:
        return when(f.sent_at, "d MMM") or f.edition_id
    return format_date(day, "d MMM", locale=when.lang)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv(rows: list[list], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _row(f: readers.Figures, when: When) -> list:
    ctr = f"{f.click_through:.4f}" if f.click_through is not None else ""
    sent_at = when(f.sent_at, "yyyy-MM-dd'T'HH:mm:ssxxx")
    return [
        f.edition_id,
        f.list_name,
        sent_at,
        f.subject,
        f.sent,
        f.failed,
        f.delivered,
        f.opens,
        f.machine_opens,
        f.clicks,
        f.total_clicks,
        ctr,
        f.unsubscribes,
        f.bounces,
        f.complaints,
    ]


def _iso(request: Request) -> When:
    return When(state(request).config.site.timezone, "en")


async def overview_csv(request: Request) -> Response:
    require_role(request, "admin")
    trends = await run_in_threadpool(_trends, state(request).db)
    when = _iso(request)
    rows: list[list] = [list(COLUMNS)]
    rows += [_row(f, when) for _, figures in trends for f in figures]
    return _csv(rows, "stats.csv")


async def edition_csv(request: Request) -> Response:
    require_role(request, "admin")
    web = state(request)
    edition_id = request.path_params["edition_id"]
    figures = await run_in_threadpool(readers.edition_figures, web.db, edition_id)
    if figures is None:
        raise HTTPException(404, N_("There is no such edition."))
    links = await run_in_threadpool(readers.link_clicks, web.db, edition_id)
    rows: list[list] = [list(COLUMNS), _row(figures, _iso(request)), []]
    rows += [["url", "clicks", "unique_clicks"]]
    rows += [[link.url, link.clicks, link.unique] for link in links]
    return _csv(rows, f"stats-{edition_id}.csv")


routes = [
    Route("/stats", overview, methods=["GET"]),
    Route("/stats.csv", overview_csv, methods=["GET"]),
    Route("/stats/{edition_id}.csv", edition_csv, methods=["GET"]),
    Route("/stats/{edition_id}", edition, methods=["GET"]),
]
