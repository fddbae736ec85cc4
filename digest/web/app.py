"""The ASGI app: editors' pages, subscribers' pages, the SendGrid webhook and a JSON API.

Routes live under the path of ``site.public_url`` (``https://x/digest`` -> ``/digest/...``), so
the links in emails (``{public_url}/u/{token}``) reach the app behind a proxy that does not
strip the prefix. Errors become responses in one place (``_error``): an HTML page for people,
JSON for the API and the webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.templating import Jinja2Templates

from digest.config import Config
from digest.errors import DigestError
from digest.store.db import Database, open_database
from digest.tokens import BadToken, TokenSigner, load_secret_key
from digest.web.bodylimit import BodyLimit
from digest.web.clientaddr import ClientAddress
from digest.web.logredact import RememberTokens, install_log_redaction
from digest.web.ratelimit import LoginLimit, RateLimit

log = logging.getLogger("digest.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_HOURS = 12


@dataclass
class WebState:
    """What every handler needs, built once per app."""

    config: Config
    db: Database
    secret: str
    signer: TokenSigner  # the unsubscribe/preferences tokens of the emails
    base: str  # the path prefix, e.g. "/digest" ("" at the root)
    make_backend: Any  # () -> a delivery Backend, for test sends and confirmations
    login_limit: LoginLimit = field(default_factory=LoginLimit)
    signup_limit: RateLimit = field(default_factory=lambda: RateLimit(5, 3600))


def state(request: Request) -> WebState:
    return request.app.state.web


def base_path(public_url: str) -> str:
    return urlsplit(public_url).path.rstrip("/")


def _default_backend(config: Config):
    from digest.delivery import make_backend

    out = config.web.outbox_dir or config.state_dir / "outbox"
    return lambda: make_backend(config.web.backend, config, out_dir=out)


def create_app(config: Config, *, db: Database | None = None, make_backend=None) -> Starlette:
    from digest.web import api, auth, editors, hooks, ops, subscribers

    install_log_redaction()
    secret = load_secret_key(config.secret_key, config.state_dir).value
    web = WebState(
        config=config,
        db=db or open_database(config.database_url),
        secret=secret,
        signer=TokenSigner(secret),
        base=base_path(config.site.public_url),
        make_backend=make_backend or _default_backend(config),
    )
    routes: list[BaseRoute] = [*auth.routes, *editors.routes, *subscribers.routes,
                               *hooks.routes, *api.routes, *ops.routes]
    top: list[BaseRoute] = [Mount(web.base, routes=routes)] if web.base else routes
    if web.base:
        top.insert(0, Route("/", lambda r: RedirectResponse(f"{web.base}/", 303)))
    # A key of its own for the session cookie, so a session can never pass for a token.
    session_key = hmac.new(secret.encode(), b"digest.session", hashlib.sha256).hexdigest()
    app = Starlette(
        routes=top,
        middleware=[
            Middleware(RememberTokens),
            Middleware(SecurityHeaders),
            Middleware(ClientAddress, trusted=config.web.trusted_proxies),
            Middleware(BodyLimit, paths={f"{web.base}/hooks/sendgrid": hooks.MAX_BODY}),
            Middleware(SessionMiddleware, secret_key=session_key, session_cookie="digest_session",
                       max_age=SESSION_HOURS * 3600, same_site="strict",
                       https_only=config.site.public_url.startswith("https://"),
                       path=web.base or "/"),
        ],
        # DigestError (BadToken included) is answered like an HTTPException; Exception goes to
        # Starlette's outermost middleware, which answers 500 and re-raises for the server log.
        exception_handlers={Exception: _error, HTTPException: _error, DigestError: _error},
    )
    app.state.web = web
    app.state.templates = templates()
    return app


def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(TEMPLATES))


def page(request: Request, name: str, context: dict | None = None, status: int = 200,
         headers: dict | None = None) -> Response:
    """A server-rendered page, with what every page needs: the prefix, the user, the CSRF token."""
    from digest.web.auth import current_user

    web = state(request)
    ctx = {"base": web.base, "site": web.config.site, "user": current_user(request),
           "csrf": _LazyCsrf(request), **(context or {})}
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status,
                                                         headers=headers)


class _LazyCsrf:
    """Made only when a page has a form: a page without one (the unsubscribe confirmation,
    the archive) sets no cookie."""

    def __init__(self, request: Request):
        self.request = request

    def __str__(self) -> str:
        from digest.web.auth import csrf_token

        return csrf_token(self.request)

    __html__ = __str__


def wants_json(request: Request) -> bool:
    path = request.url.path.removeprefix(state(request).base)
    return path.startswith(("/api/", "/hooks/"))


MESSAGES = {
    400: "This request could not be understood.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "This address does not accept that method.",
    429: "Too many attempts: wait a little and try again.",
}


async def _error(request: Request, exc: Exception) -> Response:
    """The one place where errors become responses."""
    if isinstance(exc, HTTPException) and 300 <= exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, HTTPException):
        status, detail = exc.status_code, exc.detail
        if detail == _default_phrase(status):
            detail = MESSAGES.get(status, detail)
    elif isinstance(exc, BadToken):
        status, detail = 400, str(exc)
    elif isinstance(exc, DigestError):
        status, detail = 409, str(exc)
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        status, detail = 500, "Something went wrong on our side; it has been logged."
    if wants_json(request) or request.app.state.web is None:
        return JSONResponse({"error": detail}, status_code=status)
    return page(request, "error.html", {"status": status, "detail": detail}, status=status)


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class SecurityHeaders:
    """Headers on every response. ``Referrer-Policy: no-referrer`` matters most: the
    unsubscribe and preference URLs carry a subscriber's token, which must not leak to the
    sites their pages link to."""

    HEADERS = [
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"SAMEORIGIN"),  # the preview frames are same-origin iframes
        (b"content-security-policy",
         b"default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; "
         b"script-src 'none'; frame-ancestors 'self'; form-action 'self'"),
    ]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.HEADERS if h[0] not in names]
                if b"cache-control" not in names:  # drafts and tokens: keep out of caches
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)
