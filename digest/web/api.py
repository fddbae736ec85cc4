"""The JSON API's reading side and its OpenAPI description (the writing side and send control:
digest/web/apicontrol.py, described here too).

A caller is an editor's session or a bearer token (digest/web/apiauth.py); a read token may
GET, a write token may also POST.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digest.models import edition_to_dict
from digest.store.editions import get_edition, list_editions
from digest.store.events import edition_counts
from digest.web import drafts
from digest.web.apiauth import api_caller
from digest.web.openapi_control import control_paths
from digest.web.pages import state


def _iso(value):
    return value.isoformat() if value else None


def _summary(row: dict) -> dict:
    return {
        "id": row["id"],
        "list": row["list_name"],
        "status": row["status"],
        "subject": row["subject"],
        "needs_approval": bool(row["needs_approval"]),
        "approved_at": _iso(row["approved_at"]),
        "approved_by": row["approved_by"],
        "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]),
    }


async def editions(request: Request):
    api_caller(request)
    return JSONResponse([_summary(r) for r in list_editions(state(request).db, limit=200)])


async def edition(request: Request):
    api_caller(request)
    web = state(request)
    stored = get_edition(web.db, request.path_params["edition_id"])
    if stored is None:
        raise HTTPException(404, "There is no such edition.")
    return JSONResponse(
        {
            "id": stored.id,
            "list": stored.list_name,
            "status": stored.status,
            "approved_at": _iso(stored.approved_at),
            "approved_by": stored.approved_by,
            "edition": edition_to_dict(stored.edition, html_bytes=stored.rendered.html_bytes),
            "edits": drafts.current_edits(stored),
            "checks": drafts.checks(web.config, stored),
            "events": edition_counts(web.db, stored.id),
        }
    )


def openapi(request: Request):
    base = state(request).base
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    summary = {
        "type": "object",
        "properties": {
            k: {"type": "string", "nullable": True}
            for k in (
                "id",
                "list",
                "status",
                "subject",
                "approved_at",
                "approved_by",
                "created_at",
                "finished_at",
            )
        }
        | {"needs_approval": {"type": "boolean"}},
    }
    refused = {
        "description": "Not logged in, or a read token on a write endpoint",
        "content": {"application/json": {"schema": error}},
    }
    return JSONResponse(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "digest",
                "version": "1",
                "description": "Editions, their checks and send control. Send an API token "
                "('digest api-token create') as 'Authorization: Bearer TOKEN' (read scope: GET; "
                "write scope: also POST), or use an editor's session cookie (log in at /login; "
                "a POST then needs the X-CSRF-Token header from GET /api/csrf).",
            },
            "servers": [{"url": base or "/"}],
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "digest_session"},
                }
            },
            "security": [{"bearer": []}, {"session": []}],
            "paths": {
                **control_paths(error),
                "/api/editions": {
                    "get": {
                        "summary": "Drafts and past editions, newest first",
                        "responses": {
                            "200": {
                                "description": "Editions",
                                "content": {
                                    "application/json": {
                                        "schema": {"type": "array", "items": summary}
                                    }
                                },
                            },
                            "403": refused,
                        },
                    }
                },
                "/api/editions/{edition_id}": {
                    "get": {
                        "summary": "One edition: its stories, edits, checks and event counts",
                        "parameters": [
                            {
                                "name": "edition_id",
                                "in": "path",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                        ],
                        "responses": {
                            "200": {
                                "description": "The edition",
                                "content": {"application/json": {"schema": {"type": "object"}}},
                            },
                            "403": refused,
                            "404": {
                                "description": "No such edition",
                                "content": {"application/json": {"schema": error}},
                            },
                        },
                    }
                },
                "/hooks/sendgrid": {
                    "post": {
                        "summary": "SendGrid's signed Event Webhook",
                        "parameters": [
                            {
                                "name": h,
                                "in": "header",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                            for h in (
                                "X-Twilio-Email-Event-Webhook-Signature",
                                "X-Twilio-Email-Event-Webhook-Timestamp",
                            )
                        ],
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "object"}}
                                }
                            },
                        },
                        "responses": {
                            "200": {"description": "Accepted"},
                            "403": {"description": "Unsigned, forged or stale"},
                        },
                    }
                },
            },
        }
    )


routes = [
    Route("/api/openapi.json", openapi),
    Route("/api/editions", editions),
    Route("/api/editions/{edition_id}", edition),
]
