"""The ASGI app assembled: editors' pages, subscribers' pages, the SendGrid webhook, a JSON API,
and the middleware around them. Route modules never import this module; what they share is in
digest/web/pages.py and digest/web/session.py.

Routes live under the path of ``site.public_url`` (``https://x/digest`` -> ``/digest/...``), so
the links in emails (``{public_url}/u/{token}``) reach the app behind a proxy that does not
strip the prefix. Errors become responses in one place (``error_response``): an HTML page for people,
JSON for the API and the webhook.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route

from digest.config import Config
from digest.delivery.control import SendControl
from digest.errors import DigestError
from digest.store.db import Database, open_database
from digest.tokens import TokenSigner, load_secret_key
from digest.web import (
    admin,
    api,
    apicontrol,
    audience,
    audience_io,
    content,
    dashboard,
    editors,
    hooks,
    login,
    ops,
    sendpage,
    stats,
    subscribers,
    tracking,
)
from digest.web.bodylimit import BodyLimit
from digest.web.clientaddr import ClientAddress
from digest.web.logredact import RememberTokens, install_log_redaction
from digest.web.pages import SESSION_HOURS, WebState, base_path, error_response, templates


def _default_backend(config: Config):
    from digest.delivery import make_backend

    out = config.web.outbox_dir or config.state_dir / "outbox"
    return lambda: make_backend(config.web.backend, config, out_dir=out)


def _send_backends(config: Config):
    from digest.delivery import make_backend

    out = config.web.outbox_dir or config.state_dir / "outbox"
    return lambda name: make_backend(name, config, out_dir=out)


def create_app(
    config: Config, *, db: Database | None = None, make_backend=None, make_send_backend=None
) -> Starlette:
    install_log_redaction()
    secret = load_secret_key(config.secret_key, config.state_dir).value
    database = db or open_database(config.database_url)
    signer = TokenSigner(secret)
    web = WebState(
        config=config,
        db=database,
        secret=secret,
        signer=signer,
        base=base_path(config.site.public_url),
        make_backend=make_backend or _default_backend(config),
        sends=SendControl(config, database, signer=signer),
        make_send_backend=make_send_backend or _send_backends(config),
    )
    routes: list[BaseRoute] = [
        *login.routes,
        *dashboard.routes,
        *sendpage.routes,
        *admin.routes,
        *editors.routes,
        *content.routes,
        *subscribers.routes,
        *hooks.routes,
        *api.routes,
        *apicontrol.routes,
        *ops.routes,
        *audience_io.routes,  # before audience's: /audience/suppressions is not a subscriber
        *audience.routes,
        *stats.routes,
        *tracking.routes,
    ]
    top: list[BaseRoute] = [Mount(web.base, routes=routes)] if web.base else routes
    if web.base:
        top.insert(0, Route("/", lambda r: RedirectResponse(f"{web.base}/", 303)))
    # A key of its own for the session cookie, so a session can never pass for a token.
    session_key = hmac.new(secret.encode(), b"digest.session", hashlib.sha256).hexdigest()
    app = Starlette(
        routes=top,
        lifespan=_stops_sends(web),
        middleware=[
            Middleware(RememberTokens),
            Middleware(SecurityHeaders),
            Middleware(ClientAddress, trusted=config.web.trusted_proxies),
            Middleware(
                BodyLimit,
                paths={
                    f"{web.base}/hooks/sendgrid": hooks.MAX_BODY,
                    # The one upload: a subscriber CSV or Mailchimp ZIP, spooled to disk.
                    f"{web.base}/audience/import": audience_io.IMPORT_MAX,
                },
            ),
            Middleware(
                SessionMiddleware,
                secret_key=session_key,
                session_cookie="digest_session",
                max_age=SESSION_HOURS * 3600,
                same_site="strict",
                https_only=config.site.public_url.startswith("https://"),
                path=web.base or "/",
            ),
        ],
        # DigestError (BadToken included) is answered like an HTTPException; Exception goes to
        # Starlette's outermost middleware, which answers 500 and re-raises for the server log.
        exception_handlers={
            Exception: error_response,
            HTTPException: error_response,
            DigestError: error_response,
        },
    )
    app.state.web = web
    app.state.templates = templates()
    return app


def _stops_sends(web: WebState):
    """A send the app started stops after its batch in flight, resumable, when the app stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(web.sends.shutdown)

    return lifespan


class SecurityHeaders:
    """Headers on every response. ``Referrer-Policy: no-referrer`` matters most: the
    unsubscribe and preference URLs carry a subscriber's token, which must not leak to the
    sites their pages link to."""

    HEADERS = [
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"SAMEORIGIN"),  # the preview frames are same-origin iframes
        (
            b"content-security-policy",
            b"default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; "
            b"script-src 'none'; frame-ancestors 'self'; form-action 'self'",
        ),
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
                    h for h in self.HEADERS if h[0] not in names
                ]
                if b"cache-control" not in names:  # drafts and tokens: keep out of caches
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)
