"""Operating endpoints: ``{prefix}/healthz`` for load balancers, ``{prefix}/metrics`` for
Prometheus.

``/healthz`` answers 200 when the database answers and its schema is current, 503 otherwise,
with a small JSON body (no address, no token; the database error itself goes to the log).
``/metrics`` exists only with ``[web] metrics = true``; with DIGEST_METRICS_TOKEN set it wants
``Authorization: Bearer <token>`` (compared in constant time), so it can sit on a public host.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.status import snapshot
from digest.web.metrics import registry_for, render


async def healthz(request: Request) -> Response:
    web = request.app.state.web
    body = await run_in_threadpool(snapshot, web.db, datetime.now(UTC))
    return JSONResponse(body, status_code=200 if body["ok"] else 503)


async def metrics(request: Request) -> Response:
    web = request.app.state.web
    if not web.config.web.metrics:
        raise HTTPException(404)
    token = web.config.web.metrics_token
    if token and not _bearer_matches(request.headers.get("authorization", ""), token):
        return Response(
            "Metrics need the bearer token (DIGEST_METRICS_TOKEN).\n",
            401,
            headers={"WWW-Authenticate": "Bearer"},
            media_type="text/plain",
        )
    # A registry per scrape is a few objects: cheaper than the queries it runs.
    body = await run_in_threadpool(render, registry_for(web.db))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
