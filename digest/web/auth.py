"""Editors' login, the session, and CSRF tokens.

The session is a signed cookie (Starlette's SessionMiddleware, itsdangerous, a key derived from
DIGEST_SECRET_KEY): HttpOnly, SameSite=Strict, Secure when the public URL is https, 12 hours.
Every form carries the session's CSRF token; ``check_csrf`` compares it in constant time.
SameSite=Strict alone would stop most cross-site posts, the token also covers old browsers.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from digest.web.passwords import DUMMY_HASH, verify_password


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


def current_user(request: Request) -> str | None:
    # scope, not request.session: the 500 page is made outside the session middleware.
    user = request.scope.get("session", {}).get("user")
    editors = request.app.state.web.config.editors
    # An editor removed from the config loses access at once, even with a live cookie.
    return user if user in editors else None


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
    return request.client.host if request.client else "?"


async def login(request: Request):
    from digest.web.app import page, state

    if request.method == "GET":
        return page(request, "login.html")
    form = await form_with_csrf(request)
    web = state(request)
    if not web.login_limit.allow(client_ip(request)):
        raise HTTPException(429)
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    stored = web.config.editors.get(name)
    ok = verify_password(password, stored or DUMMY_HASH) and stored is not None
    if not ok:
        return page(request, "login.html", {"error": "Wrong name or password.", "name": name},
                    status=401)
    request.session.clear()  # a fresh CSRF token for the logged-in session
    request.session["user"] = name
    csrf_token(request)
    return RedirectResponse(f"{web.base}/editions", 303)


async def logout(request: Request):
    await form_with_csrf(request)
    request.session.clear()
    return RedirectResponse(f"{request.app.state.web.base}/login", 303)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
