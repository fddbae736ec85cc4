"""SendGrid's signed Event Webhook: POST /hooks/sendgrid.

Verification: ECDSA P-256 with SHA-256 over ``timestamp + raw body`` (the bytes as received,
before any JSON parsing), with the account's public key (base64 DER) from
``[sendgrid] webhook_public_key``. Unsigned, forged or stale posts get 403. SendGrid retries any
non-2xx answer for 24 hours, so an event we cannot use still gets 200 once verified.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digest.delivery.events import SIGNATURE, TIMESTAMP, normalize, verify
from digest.store.events import record_event

log = logging.getLogger("digest.web")
MAX_SKEW = 600  # seconds: a captured post replayed later is refused
MAX_BODY = 5_000_000


async def sendgrid(request: Request):
    web = request.app.state.web
    key = web.config.sendgrid.webhook_public_key
    signature, stamp = request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "Too large.")
    if not key or not signature or not stamp:
        raise HTTPException(403, "Unsigned event posts are refused.")
    try:
        fresh = abs(time.time() - int(stamp)) <= MAX_SKEW
    except ValueError:
        fresh = False
    if not fresh or not verify(key, signature, stamp, body):
        raise HTTPException(403, "The signature does not match.")
    try:
        events = json.loads(body)
    except ValueError:
        raise HTTPException(400, "The body is not JSON.") from None
    if not isinstance(events, list):
        raise HTTPException(400, "Expected a JSON array of events.")
    new = 0
    for event in events:
        row = normalize(event) if isinstance(event, dict) else None
        if row is not None:
            new += await run_in_threadpool(lambda r=row: record_event(web.db, **r))
    return JSONResponse({"received": len(events), "new": new})


routes = [Route("/hooks/sendgrid", sendgrid, methods=["POST"])]
