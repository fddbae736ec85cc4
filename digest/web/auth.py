"""Editors' login, the session, and CSRF tokens.

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
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from digest.store.schema import utcnow
from digest.store.web_sessions import create_session, revoke_session, session_editor
from digest.web.passwords import DUMMY_HASH, verify_password

log = logging.getLogger("digest.web")
_USER = "digest.user"  # the scope key where the request's editor is kept once looked up


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
        raise HTTPException(403, "This form has expired or did not come from this site: "
                                 "reload the page and try again.")
    return form


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def current_user(request: Request) -> str | None:
    """The editor of this request's session, checked against the server's record (once per
    request), or None."""
    if _USER in request.scope:
        return request.scope[_USER]
    # scope, not request.session: the 500 page is made outside the session middleware.
    sid = request.scope.get("session", {}).get("sid")
    user = None
    if isinstance(sid, str):
        try:
            user = session_editor(request.app.state.web.db, _id_hash(sid), now=utcnow())
        except Exception:  # the error page of a database failure must still render
            log.exception("cannot check the session")
            return None
    # An editor removed from the config loses access at once, even with a live session.
    if user not in request.app.state.web.config.editors:
        user = None
    request.scope[_USER] = user
    return user


def require_editor(request: Request) -> str:
    user = current_user(request)
    if user is None:
        if request.method == "GET" and not request.url.path.removeprefix(
                request.app.state.web.base).startswith("/api/"):
            raise _LoginRedirect(request)
        raise HTTPException(403, "Log in first.")
    return user


class _LoginRedirect(HTTPException):
    def __init__(self, request: Request):
        base = request.app.state.web.base
        super().__init__(303, headers={"Location": f"{base}/login"})


def client_ip(request: Request) -> str:
    """The client's address, as digest/web/clientaddr.py decided it (trusted proxies)."""
    return request.client.host if request.client else "?"


async def login(request: Request):
    from digest.web.app import SESSION_HOURS, page, state

    if request.method == "GET":
        return page(request, "login.html")
    form = await form_with_csrf(request)
    web = state(request)
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    account, client = name[:200], client_ip(request)
    if not web.login_limit.allowed(account, client):
        raise HTTPException(429, "Too many failed logins: wait a quarter of an hour and try "
                                 "again.")
    stored = web.config.editors.get(name)
    ok = verify_password(password, stored or DUMMY_HASH) and stored is not None
    if not ok:
        web.login_limit.failed(account, client)
        return page(request, "login.html", {"error": "Wrong name or password.", "name": name},
                    status=401)
    web.login_limit.succeeded(account, client)
    old = request.session.get("sid")
    if isinstance(old, str):  # logging in again over a live session ends that one
        await run_in_threadpool(revoke_session, web.db, _id_hash(old), now=utcnow())
    sid = secrets.token_urlsafe(32)
    await run_in_threadpool(create_session, web.db, _id_hash(sid), name, now=utcnow(),
                            lifetime=timedelta(hours=SESSION_HOURS))
    request.session.clear()  # a fresh CSRF token for the logged-in session
    request.session["sid"] = sid
    request.scope[_USER] = name
    csrf_token(request)
    return RedirectResponse(f"{web.base}/editions", 303)


async def logout(request: Request):
    await form_with_csrf(request)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await run_in_threadpool(revoke_session, request.app.state.web.db, _id_hash(sid),
                                now=utcnow())
    request.session.clear()
    return RedirectResponse(f"{request.app.state.web.base}/login", 303)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
