"""Editors' pages (login required): editions, a draft's previews and checks, edits, approval,
a test send. Every handler starts with ``require_editor``; every POST checks the CSRF token."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

from digest.edition import edits as edit_ops
from digest.store.editions import StoredEdition, approve_edition, get_edition, list_editions
from digest.store.events import edition_counts
from digest.web import drafts
from digest.web.pages import page, state
from digest.web.session import form_with_csrf, require_editor

# The preview is the email's own HTML: sandboxed (no scripts, no forms, no top navigation) even
# though sources' HTML is sanitized when read.
PREVIEW_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"


def _stored(request: Request) -> StoredEdition:
    stored = get_edition(state(request).db, request.path_params["edition_id"])
    if stored is None:
        raise HTTPException(404, "There is no such edition.")
    return stored


def _lang(request: Request) -> str | None:
    """The variant an editor looks at (?lang=ar); None: the list's default one."""
    return request.query_params.get("lang") or None


async def index(request: Request):
    return RedirectResponse(f"{state(request).base}/archive", 303)


async def editions(request: Request):
    require_editor(request)
    rows = list_editions(state(request).db, limit=200)
    drafts_ = [r for r in rows if r["status"] in ("ready", "paused")]
    past = [r for r in rows if r["status"] not in ("ready", "paused")]
    return page(request, "editions.html", {"drafts": drafts_, "past": past})


async def edition(request: Request):
    require_editor(request)
    web = state(request)
    whole = _stored(request)
    stored = drafts.view(whole, _lang(request))
    _, text = drafts.filled(web.config, stored)
    base = drafts.base_edition(whole)
    if stored.edition.locale != whole.edition.locale:
        base = next((v for v in base.variants if v.locale == stored.edition.locale), base)
    current = {edit_ops.story_key(s) for s in (*stored.edition.ticker, *stored.edition.featured)}
    dropped = [s for s in (*base.featured, *base.ticker) if edit_ops.story_key(s) not in current]
    return page(
        request,
        "edition.html",
        {
            "e": stored,
            "variants": whole.all_variants(),
            "lang": "" if stored is whole else stored.edition.locale,
            "text": text,
            "checks": drafts.checks(web.config, stored),
            "edits": drafts.current_edits(stored),
            "dropped": dropped,
            "key": edit_ops.story_key,
            "counts": edition_counts(web.db, stored.id),
            "editable": stored.status == "ready",
            "message": request.query_params.get("m"),
        },
    )


async def preview_html(request: Request):
    require_editor(request)
    html, _ = drafts.filled(state(request).config, drafts.view(_stored(request), _lang(request)))
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP})


async def preview_text(request: Request):
    require_editor(request)
    _, text = drafts.filled(state(request).config, drafts.view(_stored(request), _lang(request)))
    return PlainTextResponse(text)


def _back(request: Request, stored: StoredEdition, message: str | None = None, lang=None):
    from urllib.parse import urlencode

    url = f"{state(request).base}/editions/{stored.id}"
    query = {"lang": str(lang or ""), "m": message or ""}
    query = {k: v for k, v in query.items() if v}
    return RedirectResponse(url + (f"?{urlencode(query)}" if query else ""), 303)


async def stories(request: Request):
    """Pin, unpin, drop, restore, move up or down one story."""
    require_editor(request)
    form = await form_with_csrf(request)
    web, stored = state(request), _stored(request)
    action, key = form.get("action"), str(form.get("key", ""))
    edits = drafts.current_edits(stored)
    pinned, dropped = list(edits.get("pinned", [])), list(edits.get("dropped", []))
    if action == "pin":
        pinned = [key] + [k for k in pinned if k != key]
        dropped = [k for k in dropped if k != key]
    elif action == "unpin":
        pinned = [k for k in pinned if k != key]
    elif action == "drop":
        dropped.append(key)
        pinned = [k for k in pinned if k != key]
    elif action == "restore":
        dropped = [k for k in dropped if k != key]
    elif action in ("up", "down"):
        shown = drafts.view(stored, str(form.get("lang", "")) or None).edition
        section = (
            "featured" if any(edit_ops.story_key(s) == key for s in shown.featured) else "ticker"
        )
        keys = [edit_ops.story_key(s) for s in getattr(shown, section)]
        order = dict(edits.get("order", {}))
        order[section] = edit_ops.move(keys, key, -1 if action == "up" else 1)
        edits["order"] = order
    else:
        raise HTTPException(400, "Unknown action.")
    edits.update(pinned=pinned, dropped=dropped)
    await run_in_threadpool(drafts.save_edits, web.config, web.db, stored, edits)
    return _back(request, stored, lang=form.get("lang"))


async def texts(request: Request):
    """The editor's note and the subject override ("" restores the built subject)."""
    require_editor(request)
    form = await form_with_csrf(request)
    web, stored = state(request), _stored(request)
    edits = drafts.current_edits(stored)
    edits["note"] = str(form.get("note", ""))
    edits["subject"] = str(form.get("subject", ""))
    await run_in_threadpool(drafts.save_edits, web.config, web.db, stored, edits)
    return _back(request, stored, "Saved and rendered again; approve it again if it was.")


async def approve(request: Request):
    user = require_editor(request)
    await form_with_csrf(request)
    stored = _stored(request)
    approve_edition(state(request).db, stored.id, by=user)
    return _back(request, stored, f"Approved by {user}.")


async def test_send(request: Request):
    require_editor(request)
    form = await form_with_csrf(request)
    web, stored = state(request), _stored(request)
    address = str(form.get("address", "")).strip()
    shown = drafts.view(stored, str(form.get("lang", "")) or None)
    from email_validator import EmailNotValidError

    try:
        detail = await run_in_threadpool(
            drafts.send_test, web.config, shown, web.make_backend(), address
        )
    except EmailNotValidError as exc:
        return _back(request, stored, f"Not sent: {exc}", lang=form.get("lang"))
    return _back(request, stored, f"Test sent to {address} ({detail}).", lang=form.get("lang"))


routes = [
    Route("/", index),
    Route("/editions", editions),
    Route("/editions/{edition_id}", edition),
    Route("/editions/{edition_id}/preview.html", preview_html),
    Route("/editions/{edition_id}/preview.txt", preview_text),
    Route("/editions/{edition_id}/stories", stories, methods=["POST"]),
    Route("/editions/{edition_id}/texts", texts, methods=["POST"]),
    Route("/editions/{edition_id}/approve", approve, methods=["POST"]),
    Route("/editions/{edition_id}/test", test_send, methods=["POST"]),
]
