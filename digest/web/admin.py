"""Admins' pages: the audit log (who did what, when), the accounts (the ``[editors]`` table
of the config, with their roles and sessions) and the JSON API's tokens.

The tokens are made and revoked through digest/store/api_tokens.py, as ``digest api-token`` and
``/api/tokens`` do, and each change is written to the audit with the same action names
(``token-create``, ``token-revoke``). A new token is shown once, on the answer to its form, and
never again: only its SHA-256 is kept.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.errors import DigestError
from digest.store import audit
from digest.store.api_tokens import create_token, list_tokens, revoke_token
from digest.store.schema import API_SCOPES, utcnow
from digest.store.web_sessions import activity, revoke_all
from digest.web.language import chosen, translator
from digest.web.pages import page, state
from digest.web.session import form_with_csrf, require_role

# How a script presents its token: an HTTP header, the same in every language.
BEARER_HEADER = "Authorization: Bearer …"

PER_PAGE = 50


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


async def audit_page(request: Request) -> Response:
    require_role(request, "admin")
    db = state(request).db
    actor = request.query_params.get("actor", "").strip()[: audit.ACTOR_MAX] or None
    number = _page_number(request)
    rows = await run_in_threadpool(
        audit.entries, db, limit=PER_PAGE, offset=(number - 1) * PER_PAGE, actor=actor
    )
    total = await run_in_threadpool(audit.count, db, actor=actor)
    pages = max(1, -(-total // PER_PAGE))

    def link(n: int) -> str:
        query = {"actor": actor or "", "page": str(n), "lang": chosen(request) or ""}
        return f"{state(request).base}/audit?" + urlencode({k: v for k, v in query.items() if v})

    return page(
        request,
        "audit.html",
        {
            "entries": rows,
            "actor": actor or "",
            "number": number,
            "pages": pages,
            "total": total,
            "previous": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None,
        },
    )


async def tokens_page(request: Request, made: dict | None = None, error: str | None = None):
    require_role(request, "admin")
    rows = await run_in_threadpool(list_tokens, state(request).db)
    return page(
        request,
        "tokens.html",
        {
            "tokens": rows,
            "scopes": API_SCOPES,
            "bearer_header": BEARER_HEADER,
            "made": made,
            "error": error,
            "message": request.query_params.get("m"),
        },
        status=400 if error else 200,
    )


async def tokens(request: Request) -> Response:
    return await tokens_page(request)


async def token_create(request: Request) -> Response:
    admin = require_role(request, "admin")
    form = await form_with_csrf(request)
    db = state(request).db
    name, scope = str(form.get("name", "")).strip(), str(form.get("scope", ""))
    try:
        token = await run_in_threadpool(create_token, db, name, scope, by=admin)
    except DigestError as exc:  # a bad name or scope, a name in use: said on the page
        return await tokens_page(request, error=str(exc))
    await run_in_threadpool(audit.record, db, admin, "token-create", target=name, detail=scope)
    # The answer itself shows the token (no redirect: a URL or history must never hold it).
    return await tokens_page(request, made={"name": name, "scope": scope, "token": token})


async def token_revoke(request: Request) -> Response:
    admin = require_role(request, "admin")
    form = await form_with_csrf(request)
    db = state(request).db
    name = str(form.get("name", ""))
    try:
        changed = await run_in_threadpool(revoke_token, db, name)
    except DigestError as exc:  # no such token
        return await tokens_page(request, error=str(exc))
    await run_in_threadpool(audit.record, db, admin, "token-revoke", target=name)
    _ = translator(request)
    message = (
        _.gettext("Token %(name)s revoked.")
        if changed
        else _.gettext("Token %(name)s was revoked already.")
    ) % {"name": name}
    lang = chosen(request)
    query = f"?m={quote(message)}" + (f"&lang={quote(lang)}" if lang else "")
    return RedirectResponse(f"{state(request).base}/tokens{query}", 303)


async def accounts(request: Request) -> Response:
    require_role(request, "admin")
    web = state(request)
    seen = await run_in_threadpool(activity, web.db, now=utcnow())
    # Accounts are made and removed in the config ([editors]): the page shows them, it does
    # not hold passwords. An account removed there loses access at once (session.py).
    rows = [
        {
            "name": name,
            "role": web.config.editor_roles.get(name, "editor"),
            "seen": seen.get(name, (None, 0))[0],
            "live": seen.get(name, (None, 0))[1],
        }
        for name in sorted(web.config.editors)
    ]
    return page(
        request, "accounts.html", {"accounts": rows, "message": request.query_params.get("m")}
    )


async def end_sessions(request: Request) -> Response:
    admin = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    name = str(form.get("name", ""))
    _ = translator(request)
    if name not in web.config.editors:
        message = _.gettext("There is no such account.")
    else:
        ended = await run_in_threadpool(revoke_all, web.db, name, now=utcnow())
        await run_in_threadpool(
            audit.record, web.db, admin, "sessions-end", target=name, detail=str(ended)
        )
        message = _.ngettext(
            "%(num)d session of %(name)s ended.", "%(num)d sessions of %(name)s ended.", ended
        ) % {"num": ended, "name": name}
    lang = chosen(request)
    query = f"?m={quote(message)}" + (f"&lang={quote(lang)}" if lang else "")
    return RedirectResponse(f"{web.base}/accounts{query}", 303)


routes = [
    Route("/accounts", accounts),
    Route("/accounts/end-sessions", end_sessions, methods=["POST"]),
    Route("/audit", audit_page),
    Route("/tokens", tokens),
    Route("/tokens", token_create, methods=["POST"]),
    Route("/tokens/revoke", token_revoke, methods=["POST"]),
]
