"""digest's own open pixel and click redirect (``[tracking]``, SMTP and outbox sends).

``GET {prefix}/o/{reader}``: a 1x1 GIF, never cached, and an open recorded for the reader's
ledger row. ``GET {prefix}/c/{reader}/{sig}?u={url}``: the reader's click recorded, then a
redirect to ``url`` -- only when ``sig`` signs (edition, url), which only the render of that
edition made (digest/render/tracking.py). Any other URL, a cut or altered link, gets the 404
page and no redirect: this is no open redirect. Both signatures are checked in constant time.
"""

from __future__ import annotations

import base64

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.render.tracking import LINK_PURPOSE, READER_PURPOSE, link_text
from digest.store.tracking import record_click, record_open
from digest.tokens import BadToken
from digest.web.pages import state

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _reader(request: Request) -> tuple[int, str]:
    signer = state(request).signer.derived(READER_PURPOSE)
    try:
        return signer.read(request.path_params["reader"])
    except BadToken:
        raise HTTPException(404) from None


async def pixel(request: Request) -> Response:
    web = state(request)
    delivery_id, edition_id = _reader(request)
    if delivery_id and web.config.tracking.opens:
        await run_in_threadpool(
            record_open,
            web.db,
            delivery_id,
            edition_id,
            user_agent=request.headers.get("user-agent", ""),
            prefetch_seconds=web.config.tracking.prefetch_seconds,
        )
    return Response(GIF, media_type="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


async def click(request: Request) -> Response:
    web = state(request)
    delivery_id, edition_id = _reader(request)
    url = request.query_params.get("u", "")
    links = web.signer.derived(LINK_PURPOSE)
    if not url.startswith(("https://", "http://")) or not links.check_mac(
        link_text(edition_id, url), request.path_params["sig"]
    ):
        raise HTTPException(404)
    if delivery_id:
        await run_in_threadpool(record_click, web.db, delivery_id, edition_id, url)
    return RedirectResponse(url, 302)


routes = [
    Route("/o/{reader}", pixel, methods=["GET"]),
    Route("/c/{reader}/{sig}", click, methods=["GET"]),
]
