"""SendGrid's signed Event Webhook: POST /hooks/sendgrid.

Verification: ECDSA P-256 with SHA-256 over ``timestamp + raw body`` (the bytes as received,
before any JSON parsing), with the account's public key (base64 DER) from
``[sendgrid] webhook_public_key``. Unsigned, forged or stale posts get 403. SendGrid retries any
non-2xx answer for 24 hours, so an event we cannot use still gets 200 once verified; a value
no event of ours can carry (a ledger id out of range, an overlong address) gets 400 for the post.
The body is limited while it is read (``MAX_BODY``, digest/web/bodylimit.py), and an unsigned
or stale post is refused before a byte of it is read.
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

from digest.delivery.events import SIGNATURE, TIMESTAMP, BadEvent, normalize, verify
from digest.store.events import record_event

log = logging.getLogger("digest.web")
MAX_SKEW = 600  # seconds: a captured post replayed later is refused
MAX_BODY = 5_000_000  # bytes; SendGrid batches events well below this


async def sendgrid(request: Request):
    web = request.app.state.web
    key = web.config.sendgrid.webhook_public_key
    signature, stamp = request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP)
    # Everything that can be refused without the body is refused before reading it.
    if not key or not signature or not stamp:
        raise HTTPException(403, "Unsigned event posts are refused.")
    _check_timestamp(stamp)
    body = await request.body()  # at most MAX_BODY: BodyLimit stops the read beyond (413)
    if not verify(key, signature, stamp, body):
        raise HTTPException(403, "The signature does not match.")
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise HTTPException(400, "The body is not JSON (or is nested too deeply).") from None
    if not isinstance(events, list):
        raise HTTPException(400, "Expected a JSON array of events.")
    rows = []
    for n, event in enumerate(events, 1):
        try:
            row = normalize(event) if isinstance(event, dict) else None
        except BadEvent as exc:
            # The whole post, before anything is stored: SendGrid's retry then finds it as it was.
            raise HTTPException(400, f"Event {n}: {exc}.") from None
        if row is not None:
            rows.append(row)
    new = 0
    for row in rows:
        new += await run_in_threadpool(record_event, web.db, **row)
    return JSONResponse({"received": len(events), "new": new})


def _check_timestamp(stamp: str) -> None:
    """403 with the reason: an operator whose clock drifted sees it, instead of a signature
    error that would send them checking the key."""
    try:
        skew = time.time() - int(stamp)
    except ValueError:
        raise HTTPException(403, "The timestamp is not a number of seconds.") from None
    if skew > MAX_SKEW:
        raise HTTPException(
            403,
            f"The timestamp is too old (more than {MAX_SKEW // 60} "
            "minutes): a replayed post, or a clock that is off.",
        )
    if skew < -MAX_SKEW:
        raise HTTPException(
            403,
            f"The timestamp is too new (more than {MAX_SKEW // 60} "
            "minutes ahead): a clock that is off.",
        )


routes = [Route("/hooks/sendgrid", sendgrid, methods=["POST"])]
