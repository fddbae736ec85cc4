"""Content editing on the draft page: rewrite a headline or a lede, add a story by hand,
promote a ticker item to featured or demote a featured story. Also what every edit handler
shares (``save``): store the edits and render again at once, record who did it, and say so when
the change withdrew an approval (the editor approved what they saw, not this).

The edits themselves are data (digest/edition/edits.py), applied to the sources' edition."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from digest.edition import edits as edit_ops
from digest.i18n import N_
from digest.models import Story
from digest.store import audit
from digest.store.editions import StoredEdition, get_edition
from digest.store.schema import utcnow
from digest.web import drafts
from digest.web.language import chosen, translator
from digest.web.pages import state
from digest.web.session import form_with_csrf, require_role

WITHDRAWN = N_("This edition was approved; your change withdrew the approval: approve it again.")


def stored_edition(request: Request) -> StoredEdition:
    stored = get_edition(state(request).db, request.path_params["edition_id"])
    if stored is None:
        raise HTTPException(404, N_("There is no such edition."))
    return stored


def back(
    request: Request, stored: StoredEdition, message: str | None = None, variant=None
) -> RedirectResponse:
    """To the draft page (its language and variant kept), with a message shown at its top."""
    url = f"{state(request).base}/editions/{stored.id}"
    query = {"lang": chosen(request), "m": message, "variant": str(variant or "")}
    pairs = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    return RedirectResponse(url + (f"?{pairs}" if pairs else ""), 303)


async def save(
    request: Request,
    user: str,
    stored: StoredEdition,
    edits: dict,
    action: str,
    detail: str = "",
    *,
    variant=None,
    message: str | None = None,
) -> RedirectResponse:
    """Store ``edits`` (rendered again at once), audit the change, and go back to the page,
    telling the editor if an approval was withdrawn."""
    web = state(request)
    await run_in_threadpool(drafts.save_edits, web.config, web.db, stored, edits)
    withdrew = stored.approved_at is not None
    note = f"{detail}; approval by {stored.approved_by} withdrawn" if withdrew else detail
    await run_in_threadpool(audit.record, web.db, user, f"edit:{action}", stored.id, note or None)
    _ = translator(request).gettext
    text = message or _("Saved and rendered again.")
    if withdrew:
        text = _(WITHDRAWN)
    return back(request, stored, text, variant=variant)


def shown_story(stored: StoredEdition, key: str) -> Story:
    """The story the edits know as ``key`` in the default variant, or 400."""
    edits = drafts.current_edits(stored)
    for story in (*stored.edition.featured, *stored.edition.ticker):
        if edit_ops.original_key(edits, story) == key:
            return story
    raise HTTPException(400, N_("This edition has no such story."))


async def rewrite(request: Request):
    """A new headline and/or lede for one story; a field left as the source wrote it (or
    empty) keeps the source's, so emptying both undoes the rewrite."""
    user = require_role(request, "editor")
    form = await form_with_csrf(request)
    stored = stored_edition(request)
    key = str(form.get("key", ""))
    shown_story(stored, key)
    edits = drafts.current_edits(stored)
    rewritten = dict(edits.get("rewritten", {}))
    rewritten.pop(key, None)
    source = _unrewritten(stored, {**edits, "rewritten": rewritten}, key)
    title = " ".join(str(form.get("title", "")).split())
    lede = str(form.get("lede", "")).strip()
    change = {
        "title": title if title and title != source.title else "",
        "lede": lede if lede and lede != "\n\n".join(source.paragraphs) else "",
    }
    if change["title"] or change["lede"]:
        rewritten[key] = change
    edits["rewritten"] = rewritten
    return await save(request, user, stored, edits, "rewrite", f"{key}: {title}")


def _unrewritten(stored: StoredEdition, edits: dict, key: str) -> Story:
    edition = edit_ops.apply(drafts.base_edition(stored), edits)
    for story in (*edition.featured, *edition.ticker):
        if edit_ops.story_key(story) == key:
            return story
    raise HTTPException(400, N_("This edition has no such story."))


async def add(request: Request):
    """A story added by hand: title, link (http/https), text, featured or in brief."""
    user = require_role(request, "editor")
    form = await form_with_csrf(request)
    stored = stored_edition(request)
    try:
        story = edit_ops.new_story(
            str(form.get("title", "")),
            str(form.get("url", "")),
            str(form.get("text", "")),
            str(form.get("role", "ticker")),
            utcnow(),
        )
    except edit_ops.EditError as exc:
        return back(request, stored, translator(request).gettext(str(exc)))
    edits = drafts.current_edits(stored)
    key = story["url"] or story["title"]
    if any(
        edit_ops.story_key(s) == key for s in (*stored.edition.featured, *stored.edition.ticker)
    ):
        return back(
            request, stored, translator(request).gettext(N_("This story is there already."))
        )
    edits["added"] = [*edits.get("added", []), story]
    # A story dropped earlier under the same key must not hide the new one.
    edits["dropped"] = [k for k in edits.get("dropped", []) if k != key]
    return await save(request, user, stored, edits, "add", f"{story['role']}: {story['title']}")


async def role(request: Request):
    """Promote a ticker item to featured, or demote a featured story to the ticker."""
    user = require_role(request, "editor")
    form = await form_with_csrf(request)
    stored = stored_edition(request)
    key, section = str(form.get("key", "")), str(form.get("role", ""))
    if section not in edit_ops.SECTIONS:
        raise HTTPException(400, N_("Unknown action."))
    shown_story(stored, key)
    edits = drafts.current_edits(stored)
    edits["roles"] = {**edits.get("roles", {}), key: section}
    # Its place in the other section's order no longer applies.
    order = {s: [k for k in keys if k != key] for s, keys in edits.get("order", {}).items()}
    edits["order"] = order
    action = "promote" if section == "featured" else "demote"
    return await save(request, user, stored, edits, action, key, variant=form.get("variant"))


routes = [
    Route("/editions/{edition_id}/rewrite", rewrite, methods=["POST"]),
    Route("/editions/{edition_id}/add", add, methods=["POST"]),
    Route("/editions/{edition_id}/role", role, methods=["POST"]),
]
