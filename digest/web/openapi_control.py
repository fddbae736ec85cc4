"""The OpenAPI description of the API's write side and send control (digest/web/apicontrol.py),
kept beside api.py's so that one document describes every endpoint."""

from __future__ import annotations


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _body(**props: dict) -> dict:
    return {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": props}}},
    }


STR = {"type": "string"}
BACKEND = {"type": "string", "enum": ["outbox", "smtp", "sendgrid"]}


def control_paths(error: dict) -> dict:
    obj = {"type": "object"}
    no = {
        "401": _json(error, "No valid token (unknown, revoked or malformed)"),
        "403": _json(error, "A read token, no session, or a session POST without X-CSRF-Token"),
        "404": _json(error, "No such edition"),
        "409": _json(error, "Not possible now (sent already, waiting for approval, busy...)"),
    }
    edition = [_param("edition_id")]

    def post(summary: str, ok: str = "202", body: dict | None = None) -> dict:
        op: dict = {
            "summary": summary,
            "parameters": edition,
            "responses": {ok: _json(obj, "Done"), **no},
        }
        if body is not None:
            op["requestBody"] = body
        return {"post": op}

    e = "/api/editions/{edition_id}"
    progress = {
        "type": "object",
        "properties": {
            "status": STR,
            "reason": STR,
            "total": {"type": "integer"},
            "left": {"type": "integer"},
            "senders": {"type": "integer"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "rate_per_second": {"type": "number"},
            "eta": {"type": "string", "format": "date-time", "nullable": True},
            "error": {"type": "string", "nullable": True},
        },
    }
    actions = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {k: STR for k in ("action", "actor", "at", "detail")},
        },
    }
    lst = [_param("list_name")]
    return {
        f"{e}/progress": {
            "get": {
                "summary": "Ledger counts by state, the last minute's rate and the estimated end "
                "(poll it)",
                "parameters": edition,
                "responses": {"200": _json(progress, "Progress"), **no},
            }
        },
        f"{e}/progress/stream": {
            "get": {
                "summary": "The same as server-sent events ('event: progress'), every second "
                "while a sender works on it",
                "parameters": edition,
                "responses": {
                    "200": {
                        "description": "An event stream",
                        "content": {"text/event-stream": {"schema": STR}},
                    },
                    **no,
                },
            }
        },
        f"{e}/actions": {
            "get": {
                "summary": "Who started, paused, resumed, cancelled, retried it, newest first",
                "parameters": edition,
                "responses": {"200": _json(actions, "The audit"), **no},
            }
        },
        f"{e}/approve": post("Approve a draft", "200"),
        f"{e}/start": post(
            "Start the send in the background (the same loop as 'digest send')",
            body=_body(backend=BACKEND),
        ),
        f"{e}/pause": post("Stop after the batch in flight, resumable"),
        f"{e}/resume": post("Resume a paused send", body=_body(backend=BACKEND)),
        f"{e}/cancel": post("Cancel for good", "200", _body(reason=STR)),
        f"{e}/retry-failed": post(
            "Put the failed deliveries back and send them",
            body=_body(
                backend=BACKEND,
                reason={**STR, "description": "only failures whose reason contains this"},
            ),
        ),
        f"{e}/resend-unknown": post(
            "Send again to whoever may not have got it (some may get it twice)",
            body=_body(backend=BACKEND),
        ),
        "/api/lists/{list_name}/subscribers": {
            "get": {
                "summary": "Member counts of a list",
                "parameters": lst,
                "responses": {"200": _json(obj, "Counts")},
            },
            "post": {
                "summary": "Subscribe one address (the importer's rules: no resubscribing)",
                "parameters": lst,
                "requestBody": _body(email=STR, name=STR),
                "responses": {"200": _json(obj, "What changed"), **no},
            },
        },
        "/api/lists/{list_name}/unsubscribe": {
            "post": {
                "summary": "Unsubscribe one address from the list",
                "parameters": lst,
                "requestBody": _body(email=STR),
                "responses": {"200": _json(obj, "How many memberships changed"), **no},
            }
        },
        "/api/csrf": {
            "get": {
                "summary": "The session's CSRF token, for X-CSRF-Token (session only)",
                "responses": {"200": _json(obj, "The token")},
            }
        },
        "/api/tokens": {
            "get": {
                "summary": "API tokens, live and revoked (an editor's session only)",
                "responses": {"200": _json({"type": "array", "items": obj}, "Tokens")},
            },
            "post": {
                "summary": "Make a token (shown once; an editor's session only)",
                "requestBody": _body(name=STR, scope={"type": "string", "enum": ["read", "write"]}),
                "responses": {"201": _json(obj, "The token, once")},
            },
        },
        "/api/tokens/{name}/revoke": {
            "post": {
                "summary": "Revoke a token (an editor's session only)",
                "parameters": [_param("name")],
                "responses": {"200": _json(obj, "Revoked")},
            }
        },
    }
