"""What every page and handler needs: the app's state, the page template with the prefix, the user
and the CSRF token, and the one place where errors become responses (error_response)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from digest.config import Config
from digest.errors import DigestError
from digest.i18n import N_, install_jinja
from digest.store.db import Database
from digest.tokens import BadToken, TokenSigner
from digest.web.language import page_context, page_language, translator
from digest.web.ratelimit import LoginLimit, RateLimit
from digest.web.session import csrf_token, current_user
from digest.web.when import When

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
    # Send control (digest/delivery/control.py): the sends this app started, and the backend
    # a send uses, by name (outbox, smtp, sendgrid).
    sends: Any = None
    make_send_backend: Any = None
    login_limit: LoginLimit = field(default_factory=LoginLimit)
    signup_limit: RateLimit = field(default_factory=lambda: RateLimit(5, 3600))


def state(request: Request) -> WebState:
    return request.app.state.web


def base_path(public_url: str) -> str:
    return urlsplit(public_url).path.rstrip("/")


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, keep_trailing_newline=True
    )
    install_jinja(env)
    return Jinja2Templates(env=env)


def page(
    request: Request,
    name: str,
    context: dict | None = None,
    status: int = 200,
    headers: dict | None = None,
    *,
    locale: str | None = None,
) -> Response:
    """A server-rendered page, with what every page needs: the prefix, the user, the CSRF token,
    and its language (``locale``: the subscriber's, when the page knows one; see language.py)."""
    web = state(request)
    lang = page_language(request, locale)
    user = current_user(request)
    ctx = {
        **page_context(request, lang),
        "base": web.base,
        "site": web.config.site,
        "user": user,
        "role": web.config.editor_roles.get(user, "editor") if user else None,
        "when": When(web.config.site.timezone, lang),
        "csrf": _LazyCsrf(request),
        **(context or {}),
    }
    # The language may come from Accept-Language: a shared cache must keep one copy per value.
    headers = {"Vary": "Accept-Language", **(headers or {})}
    return request.app.state.templates.TemplateResponse(
        request, name, ctx, status_code=status, headers=headers
    )


class _LazyCsrf:
    """Made only when a page has a form: a page without one (the unsubscribe confirmation,
    the archive) sets no cookie."""

    def __init__(self, request: Request):
        self.request = request

    def __str__(self) -> str:
        return csrf_token(self.request)

    __html__ = __str__


def wants_json(request: Request) -> bool:
    path = request.url.path.removeprefix(state(request).base)
    return path.startswith(("/api/", "/hooks/"))


MESSAGES = {
    400: N_("This request could not be understood."),
    403: N_("You are not allowed to do that."),
    404: N_("There is nothing here."),
    405: N_("This address does not accept that method."),
    429: N_("Too many attempts: wait a little and try again."),
}


async def error_response(request: Request, exc: Exception) -> Response:
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
        status, detail = 500, N_("Something went wrong on our side; it has been logged.")
    if wants_json(request) or request.app.state.web is None:
        # An HTTPException's headers (a 401's WWW-Authenticate) go with the answer.
        extra = exc.headers if isinstance(exc, HTTPException) else None
        return JSONResponse({"error": detail}, status_code=status, headers=extra)
    # Messages raised with a msgid (N_) are translated here, in the page's language; any
    # other detail is shown as it is.
    detail = translator(request).gettext(detail) if isinstance(detail, str) else detail
    return page(request, "error.html", {"status": status, "detail": detail}, status=status)


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
