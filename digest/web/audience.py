"""The audience pages (admin only): find a subscriber among a million, add one, see and change
one (profile, lists), erase one on request. Every handler starts with
``require_role(request, "admin")``; every POST checks the CSRF token and is audited.

The reads and writes are digest/store's: search.py (the database finds, one page at a time),
audience.py (a subscriber's page; adding goes through the importer and its consent rules),
erasure.py. Suppressions, CSV import and export are in digest/web/audience_io.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from digest.errors import StoreError
from digest.i18n import N_
from digest.normalize import normalize_locale, normalize_timezone
from digest.store import audit
from digest.store.audience import add_one, history, profile, update_profile
from digest.store.erasure import erase
from digest.store.lists import lists
from digest.store.search import search_subscribers
from digest.store.subscribers import unsubscribe
from digest.web.language import chosen, languages, translator
from digest.web.pages import page, state
from digest.web.session import form_with_csrf, require_role
from digest.web.subscribers import zone_names

# What a redirect after an action may say (?m=KEY): fixed, translated messages, so a link
# cannot make the page say anything else.
MESSAGES = {
    "saved": N_("Saved."),
    "subscribed": N_("Subscribed to the list."),
    "unsubscribed": N_("Unsubscribed from the list."),
    "erased": N_(
        "Erased: the personal data is deleted; only a hash of the address is kept, so it is never mailed or added again."
    ),
    "lifted": N_("The suppression is lifted."),
}


def back(request: Request, path: str, message: str | None = None, **query: str) -> RedirectResponse:
    """A 303 to ``path`` under the prefix, keeping the page's ?lang= choice."""
    params = {k: v for k, v in {**query, "m": message, "lang": chosen(request)}.items() if v}
    url = f"{state(request).base}{path}" + (f"?{urlencode(params)}" if params else "")
    return RedirectResponse(url, 303)


def message_of(request: Request) -> str | None:
    key = request.query_params.get("m")
    return translator(request).gettext(MESSAGES[key]) if key in MESSAGES else None


async def search(request: Request, *, status: int = 200, outcome: dict | None = None):
    require_role(request, "admin")
    web = state(request)
    q = request.query_params.get("q", "")[:320]
    list_name = request.query_params.get("list") or None
    known = await titled_lists(request)
    if list_name not in {info.name for info in known}:
        list_name = None
    found = await run_in_threadpool(
        search_subscribers, web.db, q, list_name=list_name, after=request.query_params.get("after")
    )
    more = None
    if found.next_after:
        params = {"q": q, "list": list_name or "", "after": found.next_after}
        params["lang"] = chosen(request) or ""
        more = "?" + urlencode({k: v for k, v in params.items() if v})
    return page(
        request,
        "audience.html",
        {
            "q": q,
            "list_name": list_name,
            "lists": known,
            "found": found,
            "more": more,
            "message": message_of(request),
            "outcome": outcome or {},
            "chosen_lang": chosen(request) or "",
        },
        status=status,
    )


async def add(request: Request):
    """A new subscriber, through the importer: its checks and its consent rules."""
    user = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    email = str(form.get("email", "")).strip()[:320]
    name = str(form.get("name", "")).strip()[:200]
    list_name = str(form.get("list", ""))
    _ = translator(request)
    await known_list(request, list_name)
    title = web.config.list_config(list_name).title
    report, refused = await run_in_threadpool(add_one, web.db, list_name, email, name, title=title)
    if report is None:
        text = _.gettext("Not added: %(reason)s") % {"reason": refused}
        return await search(request, status=400, outcome={"error": text})
    if report.added:
        await run_in_threadpool(audit.record, web.db, user, "subscriber-add", list_name, email)
        text = _.gettext("%(email)s is subscribed to %(list)s.") % {"email": email, "list": title}
        return await search(request, outcome={"message": text})
    reason = (
        _.gettext("this address was erased on request and is never added again")
        if report.skipped_erased
        else _.gettext("this address is suppressed (bounce, complaint or unsubscribed from all)")
        if report.skipped_suppressed
        else _.gettext("this person unsubscribed from this list; only they can subscribe again")
        if report.skipped_unsubscribed
        else _.gettext("already subscribed")
    )
    await run_in_threadpool(
        audit.record, web.db, user, "subscriber-add-refused", list_name, f"{email}: {reason}"
    )
    text = _.gettext("Not added: %(reason)s") % {"reason": reason}
    status = 200 if report.unchanged or report.updated else 409
    return await search(request, status=status, outcome={"error": text})


async def titled_lists(request: Request) -> list:
    """The database's lists, titled as the config titles them (a list made by an import
    before it was configured is titled by its name in the database)."""
    web = state(request)
    known = await run_in_threadpool(lists, web.db)
    return [
        info._replace(title=web.config.lists[info.name].title)
        if info.name in web.config.lists
        else info
        for info in known
    ]


async def known_list(request: Request, name: str) -> None:
    """A list of the config or of the database; 400 otherwise (no list is made from a form)."""
    web = state(request)
    if name in web.config.lists:
        return
    if name not in {info.name for info in await run_in_threadpool(lists, web.db)}:
        raise HTTPException(400, N_("Choose one of the lists."))


def _profile_or_404(request: Request):
    found = profile(state(request).db, request.path_params["subscriber_id"])
    if found is None:
        raise HTTPException(404, N_("There is no such subscriber (erased, or never here)."))
    return found


async def subscriber(request: Request):
    require_role(request, "admin")
    web = state(request)
    who = await run_in_threadpool(_profile_or_404, request)
    received, events = await run_in_threadpool(history, web.db, who.id)
    return page(
        request,
        "audience_subscriber.html",
        {
            "s": who,
            "received": received,
            "events": events,
            "lists": await titled_lists(request),
            "titles": {name: lst.title for name, lst in web.config.lists.items()},
            "languages": languages(),
            "zones": zone_names(),
            "message": message_of(request),
        },
    )


async def edit_profile(request: Request):
    user = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    who = await run_in_threadpool(_profile_or_404, request)
    locale = normalize_locale(str(form.get("locale", ""))) if form.get("locale") else None
    zone = normalize_timezone(str(form.get("timezone", ""))) if form.get("timezone") else None
    name = str(form.get("name", "")).strip()
    if any(ord(c) < 32 for c in name):
        raise HTTPException(400, N_("A name is one line of text."))
    await run_in_threadpool(update_profile, web.db, who.id, name=name, locale=locale, timezone=zone)
    detail = f"name={name!r} locale={locale} timezone={zone}"
    await run_in_threadpool(
        audit.record, web.db, user, "subscriber-edit", f"subscriber:{who.id}", detail
    )
    return back(request, f"/audience/{who.id}", "saved")


async def change_list(request: Request):
    """Subscribe (through the importer: an unsubscribed or suppressed person is not added
    back) or unsubscribe one list."""
    user = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    who = await run_in_threadpool(_profile_or_404, request)
    list_name, action = str(form.get("list", "")), form.get("action")
    target = f"subscriber:{who.id}"
    if action == "unsubscribe":
        try:
            await run_in_threadpool(unsubscribe, web.db, who.email, list_name, source="web")
        except StoreError:
            raise HTTPException(400, N_("Choose one of the lists.")) from None
        await run_in_threadpool(
            audit.record, web.db, user, "subscriber-unsubscribe", target, list_name
        )
        return back(request, f"/audience/{who.id}", "unsubscribed")
    if action != "subscribe":
        raise HTTPException(400, N_("Unknown action."))
    await known_list(request, list_name)
    title = web.config.list_config(list_name).title
    report, refused = await run_in_threadpool(add_one, web.db, list_name, who.email, title=title)
    if report is None or not (report.added or report.unchanged or report.updated):
        await run_in_threadpool(
            audit.record, web.db, user, "subscriber-subscribe-refused", target, list_name
        )
        raise HTTPException(
            409,
            N_(
                "Not subscribed: this person unsubscribed from this list or is suppressed; only they can subscribe again."
            ),
        )
    await run_in_threadpool(audit.record, web.db, user, "subscriber-subscribe", target, list_name)
    return back(request, f"/audience/{who.id}", "subscribed")


async def erase_subscriber(request: Request):
    """Erase on request: the confirmation box must be ticked (there is no undo)."""
    user = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    who = await run_in_threadpool(_profile_or_404, request)
    if form.get("confirm") != "yes":
        raise HTTPException(400, N_("Tick the box to confirm the erasure: it cannot be undone."))
    done = await run_in_threadpool(erase, web.db, who.email, source=f"web:{user}")
    # The audit names the row, never the address: the address must not survive the erasure.
    await run_in_threadpool(
        audit.record,
        web.db,
        user,
        "subscriber-erase",
        f"subscriber:{who.id}",
        f"{done.ledger_rows} ledger rows unlinked",
    )
    return back(request, "/audience", "erased")


routes = [
    Route("/audience", search),
    Route("/audience/add", add, methods=["POST"]),
    Route("/audience/{subscriber_id:int}", subscriber),
    Route("/audience/{subscriber_id:int}/profile", edit_profile, methods=["POST"]),
    Route("/audience/{subscriber_id:int}/lists", change_list, methods=["POST"]),
    Route("/audience/{subscriber_id:int}/erase", erase_subscriber, methods=["POST"]),
]
