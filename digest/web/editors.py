"""Editors' pages (login required): editions, a draft's previews and checks, edits, approval,
a test send. Every handler starts with ``require_editor``; every POST checks the CSRF token."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

from digest.edition import edits as edit_ops
from digest.i18n import N_
from digest.store.editions import StoredEdition, approve_edition, get_edition, list_editions
from digest.store.events import edition_counts
from digest.store.sendactions import record_action
from digest.web import content, drafts
from digest.web.language import chosen, translator
from digest.web.pages import page, state
from digest.web.session import form_with_csrf, require_editor, require_role

# The preview is the email's own HTML: sandboxed (no scripts, no forms, no top navigation) even
# though sources' HTML is sanitized when read.
PREVIEW_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"


def _stored(request: Request) -> StoredEdition:
    stored = get_edition(state(request).db, request.path_params["edition_id"])
    if stored is None:
        raise HTTPException(404, N_("There is no such edition."))
    return stored


def _variant_query(code: str) -> str:
    """The query naming a locale variant on the draft page's links ('' for the default)."""
    from urllib.parse import quote

    return f"?variant={quote(code)}" if code else ""


def _variant(request: Request) -> str | None:
    """The variant an editor looks at (?variant=ar; ?lang= is the page's own language); None:
    the list's default one."""
    return request.query_params.get("variant") or None


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
    stored = drafts.view(whole, _variant(request))
    _, text = drafts.filled(web.config, stored)
    base = drafts.base_edition(whole)
    if stored.edition.locale != whole.edition.locale:
        base = next((v for v in base.variants if v.locale == stored.edition.locale), base)
    edits = drafts.current_edits(stored)
    current = {
        edit_ops.original_key(edits, s) for s in stored.edition.ticker + stored.edition.featured
    }
    dropped = [s for s in (*base.featured, *base.ticker) if edit_ops.story_key(s) not in current]
    dropped += [s for s in edit_ops.added_stories(edits) if edit_ops.story_key(s) not in current]
    unmerged = set(edits.get("unmerged", []))
    merges = [
        {**m, "undone": m.get("dropped") in unmerged, "undoable": edit_ops.undoable(m)}
        for m in base.merged
    ]
    return page(
        request,
        "edition.html",
        {
            "e": stored,
            "variants": whole.all_variants(),
            "variant": "" if stored is whole else stored.edition.locale,
            "variant_query": _variant_query,
            "text": text,
            "checks": drafts.checks(web.config, stored, translator(request)),
            "edits": drafts.current_edits(stored),
            "dropped": dropped,
            "merges": merges,
            "key": lambda s: edit_ops.original_key(edits, s),
            "rewritten": edits.get("rewritten", {}),
            "counts": edition_counts(web.db, stored.id),
            "editable": stored.status == "ready",
            "message": request.query_params.get("m"),
        },
    )


async def preview_html(request: Request):
    require_editor(request)
    html, _ = drafts.filled(state(request).config, drafts.view(_stored(request), _variant(request)))
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP})


async def preview_text(request: Request):
    require_editor(request)
    _, text = drafts.filled(state(request).config, drafts.view(_stored(request), _variant(request)))
    return PlainTextResponse(text)


def _back(request: Request, stored: StoredEdition, message: str | None = None, variant=None):
    from urllib.parse import quote

    url = f"{state(request).base}/editions/{stored.id}"
    query = {"lang": chosen(request), "m": message, "variant": str(variant or "")}
    pairs = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    return RedirectResponse(url + (f"?{pairs}" if pairs else ""), 303)


async def stories(request: Request):
    """Pin, unpin, drop, restore, move up or down one story; undo a merge or make it again."""
    user = require_role(request, "editor")
    form = await form_with_csrf(request)
    stored = _stored(request)
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
    elif action in ("unmerge", "merge"):  # key: the merge's dropped title (keep both / again)
        merges = drafts.base_edition(stored).merged
        if not any(m.get("dropped") == key and edit_ops.undoable(m) for m in merges):
            raise HTTPException(400, N_("This edition has no such merge to undo."))
        unmerged = [k for k in edits.get("unmerged", []) if k != key]
        edits["unmerged"] = unmerged + [key] if action == "unmerge" else unmerged
    elif action in ("up", "down"):
        shown = drafts.view(stored, str(form.get("variant", "")) or None).edition
        section = (
            "featured"
            if any(edit_ops.original_key(edits, s) == key for s in shown.featured)
            else "ticker"
        )
        keys = [edit_ops.original_key(edits, s) for s in getattr(shown, section)]
        order = dict(edits.get("order", {}))
        order[section] = edit_ops.move(keys, key, -1 if action == "up" else 1)
        edits["order"] = order
    else:
        raise HTTPException(400, N_("Unknown action."))
    edits.update(pinned=pinned, dropped=dropped)
    return await content.save(
        request, user, stored, edits, str(action), key, variant=form.get("variant")
    )


async def texts(request: Request):
    """The editor's note and the subject override ("" restores the built subject)."""
    user = require_role(request, "editor")
    form = await form_with_csrf(request)
    stored = _stored(request)
    edits = drafts.current_edits(stored)
    edits["note"] = str(form.get("note", ""))
    edits["subject"] = str(form.get("subject", ""))
    return await content.save(request, user, stored, edits, "texts", edits["subject"])


async def approve(request: Request):
    user = require_editor(request)
    await form_with_csrf(request)
    stored = _stored(request)
    approve_edition(state(request).db, stored.id, by=user)
    # Recorded as the API's and the send page's approvals are: the edition's story and the
    # audit page show who approved it, from wherever.
    record_action(state(request).db, stored.id, "approve", actor=user)
    return _back(
        request, stored, translator(request).gettext("Approved by %(name)s.") % {"name": user}
    )


async def test_send(request: Request):
    require_editor(request)
    form = await form_with_csrf(request)
    web, stored = state(request), _stored(request)
    address = str(form.get("address", "")).strip()
    shown = drafts.view(stored, str(form.get("variant", "")) or None)
    from email_validator import EmailNotValidError

    _ = translator(request)
    try:
        detail = await run_in_threadpool(
            drafts.send_test, web.config, shown, web.make_backend(), address
        )
    except EmailNotValidError as exc:
        reason = _.gettext("Not sent: %(reason)s") % {"reason": exc}
        return _back(request, stored, reason, variant=form.get("variant"))
    message = _.gettext("Test sent to %(address)s (%(detail)s).")
    return _back(
        request,
        stored,
        message % {"address": address, "detail": detail},
        variant=form.get("variant"),
    )


routes = [
    Route("/editions", editions),
    Route("/editions/{edition_id}", edition),
    Route("/editions/{edition_id}/preview.html", preview_html),
    Route("/editions/{edition_id}/preview.txt", preview_text),
    Route("/editions/{edition_id}/stories", stories, methods=["POST"]),
    Route("/editions/{edition_id}/texts", texts, methods=["POST"]),
    Route("/editions/{edition_id}/approve", approve, methods=["POST"]),
    Route("/editions/{edition_id}/test", test_send, methods=["POST"]),
]
