"""The JSON API's write side and send control: approve, start, pause, resume, cancel, retry the
failed, resend the unknown, progress and the audit; subscribers added and removed; the API
tokens themselves (an editor's session only). Every action goes through the same library calls
as the CLI (digest/delivery/control.py), recorded in ``send_actions`` with who did it.

Each handler first decides who calls (digest/web/apiauth.py): a read token may GET, a write
token may POST, a session POST needs its CSRF token in a header.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from digest.delivery import BACKENDS
from digest.delivery import control as ctl
from digest.store import audit
from digest.store.api_tokens import create_token, list_tokens, revoke_token
from digest.store.csvio import read_subscriber_csv
from digest.store.editions import approve_edition, get_edition
from digest.store.imports import import_subscribers
from digest.store.sendactions import list_actions, record_action
from digest.store.subscribers import count_members, unsubscribe
from digest.web.apiauth import api_caller, session_editor
from digest.web.pages import state
from digest.web.session import csrf_token

MAX_JSON = 16 * 1024  # every body here is a handful of fields
STREAM_EVERY = 1.0  # seconds between two progress events


def _iso(value):
    return value.isoformat() if value else None


async def _body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    if len(raw) > MAX_JSON:
        raise HTTPException(413, "The request body is too large.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "The body must be a JSON object.")
    return data


def _text(data: dict, key: str, limit: int = 500) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise HTTPException(400, f"'{key}' must be a string of at most {limit} characters.")
    return value


def _edition_id(request: Request) -> str:
    edition_id = request.path_params["edition_id"]
    if get_edition(state(request).db, edition_id) is None:
        raise HTTPException(404, "There is no such edition.")
    return edition_id


async def csrf(request: Request):
    session_editor(request)
    return JSONResponse({"csrf": csrf_token(request)})


async def progress(request: Request):
    api_caller(request)
    edition_id = _edition_id(request)
    web = state(request)
    out = await run_in_threadpool(ctl.progress, web.db, edition_id)
    out["error"] = web.sends.last_error(edition_id)
    return JSONResponse(out)


async def progress_stream(request: Request):
    """The same figures as server-sent events, every STREAM_EVERY seconds while a sender works
    on the edition (here or in any process); one event, then the end, once none does."""
    api_caller(request)
    edition_id = _edition_id(request)
    web = state(request)

    async def events():
        while True:
            out = await run_in_threadpool(ctl.progress, web.db, edition_id)
            out["error"] = web.sends.last_error(edition_id)
            yield f"event: progress\ndata: {json.dumps(out)}\n\n"
            if not (out["senders"] or web.sends.running(edition_id)):
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(STREAM_EVERY)

    return StreamingResponse(events(), media_type="text/event-stream")


async def actions(request: Request):
    api_caller(request)
    edition_id = _edition_id(request)
    rows = await run_in_threadpool(list_actions, state(request).db, edition_id)
    return JSONResponse(
        [{"action": a.action, "actor": a.actor, "at": _iso(a.at), "detail": a.detail} for a in rows]
    )


async def approve(request: Request):
    actor = api_caller(request, write=True)
    edition_id = _edition_id(request)
    db = state(request).db
    await run_in_threadpool(approve_edition, db, edition_id, by=actor)
    await run_in_threadpool(record_action, db, edition_id, "approve", actor=actor)
    return JSONResponse({"id": edition_id, "approved_by": actor})


def _starter(retry_failed: bool = False, resend_unknown: bool = False, resume: bool = False):
    async def handler(request: Request):
        actor = api_caller(request, write=True, role="admin")
        edition_id = _edition_id(request)
        data = await _body(request)
        web = state(request)
        stored = get_edition(web.db, edition_id)
        if resume and stored is not None and stored.status != "paused":
            raise HTTPException(409, f"Edition {edition_id} is {stored.status}, not paused.")
        backend = _text(data, "backend", 20) or (stored.backend if stored else None)
        backend = backend or web.config.web.backend
        if backend not in BACKENDS:
            raise HTTPException(400, f"'backend' must be one of {', '.join(BACKENDS)}.")
        action = await run_in_threadpool(
            web.sends.start,
            edition_id,
            lambda: web.make_send_backend(backend),
            actor=actor,
            retry_failed=retry_failed,
            resend_unknown=resend_unknown,
            reason=_text(data, "reason") if retry_failed else None,
        )
        return JSONResponse({"id": edition_id, "action": action, "backend": backend}, 202)

    return handler


async def pause(request: Request):
    actor = api_caller(request, write=True, role="admin")
    edition_id = _edition_id(request)
    await run_in_threadpool(ctl.pause, state(request).db, edition_id, actor=actor)
    return JSONResponse({"id": edition_id, "action": "pause"}, 202)


async def cancel(request: Request):
    actor = api_caller(request, write=True, role="admin")
    edition_id = _edition_id(request)
    reason = _text(await _body(request), "reason")
    done = await run_in_threadpool(
        ctl.cancel, state(request).db, edition_id, actor=actor, reason=reason
    )
    return JSONResponse({"id": edition_id, "action": "cancel", **done})


async def members(request: Request):
    api_caller(request)
    counts = await run_in_threadpool(
        count_members, state(request).db, request.path_params["list_name"]
    )
    return JSONResponse(counts)


async def subscribe(request: Request):
    actor = api_caller(request, write=True, role="admin")
    data = await _body(request)
    email = _text(data, "email", 320)
    if not email:
        raise HTTPException(400, "'email' is required.")
    # One CSV row through the importer: the same checks and rules as `subscribers import`.
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["email", "name"])
    writer.writerow([email, _text(data, "name", 200) or ""])
    parsed = read_subscriber_csv(buf.getvalue().encode("utf-8"))
    if parsed.rejected:
        raise HTTPException(400, f"This address cannot be subscribed: {parsed.rejected[0].reason}.")
    list_name = request.path_params["list_name"]
    report = await run_in_threadpool(import_subscribers, state(request).db, list_name, parsed)
    await run_in_threadpool(
        audit.record, state(request).db, actor, "subscribe", target=list_name, detail=email
    )
    return JSONResponse(
        {
            "added": report.added,
            "unchanged": report.unchanged + report.updated,
            "not_added": report.skipped_unsubscribed
            + report.skipped_suppressed
            + report.skipped_erased,
        }
    )


async def remove(request: Request):
    actor = api_caller(request, write=True, role="admin")
    email = _text(await _body(request), "email", 320)
    if not email:
        raise HTTPException(400, "'email' is required.")
    list_name = request.path_params["list_name"]
    changed = await run_in_threadpool(
        unsubscribe, state(request).db, email, list_name, source="api"
    )
    await run_in_threadpool(
        audit.record, state(request).db, actor, "unsubscribe", target=list_name, detail=email
    )
    return JSONResponse({"unsubscribed": changed})


async def tokens(request: Request):
    session_editor(request)
    rows = await run_in_threadpool(list_tokens, state(request).db)
    return JSONResponse(
        [
            {
                "name": tk.name,
                "scope": tk.scope,
                "created_by": tk.created_by,
                "created_at": _iso(tk.created_at),
                "last_used_at": _iso(tk.last_used_at),
                "revoked_at": _iso(tk.revoked_at),
            }
            for tk in rows
        ]
    )


async def token_create(request: Request):
    editor = session_editor(request, write=True)
    data = await _body(request)
    name, scope = _text(data, "name", 100) or "", _text(data, "scope", 10) or ""
    token = await run_in_threadpool(create_token, state(request).db, name, scope, by=editor)
    await run_in_threadpool(
        audit.record, state(request).db, editor, "token-create", target=name, detail=scope
    )
    return JSONResponse({"name": name, "scope": scope, "token": token}, 201)


async def token_revoke(request: Request):
    editor = session_editor(request, write=True)
    name = request.path_params["name"]
    changed = await run_in_threadpool(revoke_token, state(request).db, name)
    await run_in_threadpool(audit.record, state(request).db, editor, "token-revoke", target=name)
    return JSONResponse({"name": name, "revoked": True, "already": not changed})


EDITION = "/api/editions/{edition_id}"
routes = [
    Route("/api/csrf", csrf),
    Route(f"{EDITION}/progress", progress),
    Route(f"{EDITION}/progress/stream", progress_stream),
    Route(f"{EDITION}/actions", actions),
    Route(f"{EDITION}/approve", approve, methods=["POST"]),
    Route(f"{EDITION}/start", _starter(), methods=["POST"]),
    Route(f"{EDITION}/resume", _starter(resume=True), methods=["POST"]),
    Route(f"{EDITION}/retry-failed", _starter(retry_failed=True), methods=["POST"]),
    Route(f"{EDITION}/resend-unknown", _starter(resend_unknown=True), methods=["POST"]),
    Route(f"{EDITION}/pause", pause, methods=["POST"]),
    Route(f"{EDITION}/cancel", cancel, methods=["POST"]),
    Route("/api/lists/{list_name}/subscribers", members),
    Route("/api/lists/{list_name}/subscribers", subscribe, methods=["POST"]),
    Route("/api/lists/{list_name}/unsubscribe", remove, methods=["POST"]),
    Route("/api/tokens", tokens),
    Route("/api/tokens", token_create, methods=["POST"]),
    Route("/api/tokens/{name}/revoke", token_revoke, methods=["POST"]),
]
