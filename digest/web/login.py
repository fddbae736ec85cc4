"""Editors' login and logout (the session and CSRF tokens themselves: digest/web/session.py).
Failed logins are limited per account and per client (digest/web/ratelimit.py)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from digest.i18n import N_
from digest.store.schema import utcnow
from digest.store.web_sessions import create_session, revoke_session
from digest.web.language import translator
from digest.web.pages import SESSION_HOURS, page, state
from digest.web.passwords import DUMMY_HASH, verify_password
from digest.web.session import USER_KEY, client_ip, csrf_token, form_with_csrf, session_id_hash


async def login(request: Request):
    if request.method == "GET":
        return page(request, "login.html")
    form = await form_with_csrf(request)
    web = state(request)
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    account, client = name[:200], client_ip(request)
    if not web.login_limit.allowed(account, client):
        raise HTTPException(
            429, N_("Too many failed logins: wait a quarter of an hour and try again.")
        )
    stored = web.config.editors.get(name)
    ok = verify_password(password, stored or DUMMY_HASH) and stored is not None
    if not ok:
        web.login_limit.failed(account, client)
        return page(
            request,
            "login.html",
            {"error": translator(request).gettext("Wrong name or password."), "name": name},
            status=401,
        )
    web.login_limit.succeeded(account, client)
    old = request.session.get("sid")
    if isinstance(old, str):  # logging in again over a live session ends that one
        await run_in_threadpool(revoke_session, web.db, session_id_hash(old), now=utcnow())
    sid = secrets.token_urlsafe(32)
    await run_in_threadpool(
        create_session,
        web.db,
        session_id_hash(sid),
        name,
        now=utcnow(),
        lifetime=timedelta(hours=SESSION_HOURS),
    )
    request.session.clear()  # a fresh CSRF token for the logged-in session
    request.session["sid"] = sid
    request.scope[USER_KEY] = name
    csrf_token(request)
    return RedirectResponse(f"{web.base}/", 303)  # the dashboard


async def logout(request: Request):
    await form_with_csrf(request)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await run_in_threadpool(
            revoke_session, request.app.state.web.db, session_id_hash(sid), now=utcnow()
        )
    request.session.clear()
    return RedirectResponse(f"{request.app.state.web.base}/login", 303)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
