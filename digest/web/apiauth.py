"""Who calls the JSON API: a bearer token (``Authorization: Bearer dgt_...``, digest api-token)
or an editor's session cookie.

A read token may GET; a write token may also POST. A session may do both, but its POSTs carry
the session's CSRF token in ``X-CSRF-Token`` (GET /api/csrf gives it), as the pages' forms do:
the cookie goes with any request the browser makes, a token header only with the caller's own.
A request with an Authorization header is judged by that header alone, never the cookie.
"""

from __future__ import annotations

import hmac

from starlette.exceptions import HTTPException
from starlette.requests import Request

from digest.store import audit
from digest.store.api_tokens import check_token
from digest.web.session import require_role

CSRF_HEADER = "x-csrf-token"


class Unauthorized(HTTPException):
    def __init__(self, detail: str):
        super().__init__(401, detail, headers={"WWW-Authenticate": 'Bearer realm="digest"'})


def api_caller(request: Request, *, write: bool = False, role: str = "editor") -> str:
    """The caller's name for the audit (``token:NAME`` or the editor), or 401/403. ``role``
    is what a session's account needs ("admin": send control, subscribers, tokens); a write
    token may do every write (only an admin can make one)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        token = check_token(request.app.state.web.db, presented.strip())
        if token is None:
            raise Unauthorized("This API token is not valid (unknown or revoked).")
        if write and token.scope != "write":
            path = request.url.path.removeprefix(request.app.state.web.base)
            audit.record(
                request.app.state.web.db,
                f"token:{token.name}",
                "refused",
                target=path,
                detail="needs a write token",
            )
            raise HTTPException(403, "This API token may only read (its scope is 'read').")
        return f"token:{token.name}"
    editor = require_role(request, role)
    if write:
        sent = request.headers.get(CSRF_HEADER)
        expected = request.session.get("csrf")
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            raise HTTPException(
                403,
                "A POST with the session cookie needs the X-CSRF-Token header "
                "(GET /api/csrf gives it); scripts use an API token instead.",
            )
    return editor


def session_editor(request: Request, *, write: bool = False) -> str:
    """An admin's session only (managing the tokens themselves: a token cannot make tokens)."""
    if request.headers.get("authorization") is not None:
        raise HTTPException(403, "API tokens are managed with an editor's session, not a token.")
    return api_caller(request, write=write, role="admin" if write else "editor")
