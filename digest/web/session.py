"""The editor's session and CSRF tokens (the login page itself: digest/web/login.py).

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous, a key derived from
DIGEST_SECRET_KEY): HttpOnly, SameSite=Strict, Secure when the public URL is https, 12 hours.
A logged-in cookie carries a random session id, and the session itself lives on the server
(``web_sessions``, digest/store/web_sessions.py, which keeps only the id's SHA-256): every
request checks it there, so logout ends it at once even for a copy of the cookie.
Every form carries the session's CSRF token; ``check_csrf`` compares it in constant time.
SameSite=Strict alone would stop most cross-site posts, the token also covers old browsers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from starlette.exceptions import HTTPException
from starlette.requests import Request

from digest.i18n import N_
from digest.store import audit
from digest.store.schema import utcnow
from digest.store.web_sessions import session_editor

log = logging.getLogger("digest.web")
USER_KEY = "digest.user"  # the scope key where the request's editor is kept once looked up


def csrf_token(request: Request) -> str:
    session = request.session
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


async def form_with_csrf(request: Request):
    """The posted form, once its CSRF token has been checked (403 otherwise)."""
    form = await request.form()
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(
            403,
            N_(
                "This form has expired or did not come from this site: reload the page and try again."
            ),
        )
    return form


def session_id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def current_user(request: Request) -> str | None:
    """The editor of this request's session, checked against the server's record (once per
    request), or None."""
    if USER_KEY in request.scope:
        return request.scope[USER_KEY]
    # scope, not request.session: the 500 page is made outside the session middleware.
    sid = request.scope.get("session", {}).get("sid")
    user = None
    if isinstance(sid, str):
        try:
            user = session_editor(request.app.state.web.db, session_id_hash(sid), now=utcnow())
        except Exception:  # the error page of a database failure must still render
            log.exception("cannot check the session")
            return None
    # An editor removed from the config loses access at once, even with a live session.
    if user not in request.app.state.web.config.editors:
        user = None
    request.scope[USER_KEY] = user
    return user


def require_editor(request: Request) -> str:
    user = current_user(request)
    if user is None:
        if request.method == "GET" and not request.url.path.removeprefix(
            request.app.state.web.base
        ).startswith("/api/"):
            raise _LoginRedirect(request)
        raise HTTPException(403, N_("Log in first."))
    return user


def role_of(request: Request, user: str) -> str:
    return request.app.state.web.config.editor_roles.get(user, "editor")


def require_role(request: Request, role: str) -> str:
    """The logged-in account, if it has ``role`` ("editor": any account; "admin": send
    control, the audience, accounts and tokens). A refusal is answered 403 and audited."""
    user = require_editor(request)
    if role == "admin" and role_of(request, user) != "admin":
        refuse(request, user, "admin")
    return user


def refuse(request: Request, actor: str, role: str) -> None:
    """Audit the refusal (who tried what), then answer 403."""
    path = request.url.path.removeprefix(request.app.state.web.base)
    audit.record(request.app.state.web.db, actor, "refused", target=path, detail=f"needs {role}")
    raise HTTPException(403, N_("Your account may not do this: it needs the admin role."))


class _LoginRedirect(HTTPException):
    def __init__(self, request: Request):
        base = request.app.state.web.base
        super().__init__(303, headers={"Location": f"{base}/login"})


def client_ip(request: Request) -> str:
    """The client's address, as digest/web/clientaddr.py decided it (trusted proxies)."""
    return request.client.host if request.client else "?"
