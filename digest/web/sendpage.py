"""Send control in the browser (admins): one edition's page with its progress, the buttons that
apply to its state, and its history of actions.

Every button is a form (CSRF-checked) that calls what the JSON API calls (digest/web/apicontrol.py):
``state(request).sends.start`` (start, resume, retry the failed, resend the unknown: the one
``run_send`` of digest/delivery/control.py, in a thread), ``control.pause``, ``control.cancel``,
and the approval. Each is recorded in ``send_actions`` by those calls, with the admin's name, as
from the API. A refusal of the library (not approved, sent already, busy elsewhere) comes back
as the page's message, in the library's words.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.delivery import BACKENDS
from digest.delivery import control as ctl
from digest.errors import DigestError
from digest.i18n import N_
from digest.store.editions import StoredEdition, approve_edition, get_edition
from digest.store.sendactions import list_actions, record_action
from digest.web.dashboard import SCRIPT_CSP, labels, state_key
from digest.web.language import chosen, translator
from digest.web.pages import page, state
from digest.web.session import form_with_csrf, require_role

REASON_MAX = 500
# The ledger's states, as the counts table names them (digest/store/schema.py DELIVERY_STATUSES).
LEDGER_STATES = (
    ("pending", N_("pending")),
    ("sending", N_("sending")),
    ("sent", N_("sent")),
    ("failed", N_("failed")),
    ("unknown", N_("unknown")),
    ("skipped", N_("skipped")),
    ("cancelled", N_("cancelled")),
)


def _stored(request: Request) -> StoredEdition:
    stored = get_edition(state(request).db, request.path_params["edition_id"])
    if stored is None:
        raise HTTPException(404, N_("There is no such edition."))
    return stored


def buttons(stored: StoredEdition, counts: dict[str, int], running: bool) -> list[str]:
    """The actions that can apply now, in the order the page shows them."""
    status = stored.status
    approved = stored.approved_at is not None or not stored.needs_approval
    busy = running or status == "sending"
    out = []
    if status in ("ready", "paused") and stored.needs_approval and stored.approved_at is None:
        out.append("approve")
    if status == "ready" and approved and not busy:
        out.append("start")
    if busy:
        out.append("pause")
    if status == "paused" and approved and not busy:
        out.append("resume")
    if status in ("sent", "paused") and approved and not busy:
        if counts.get("failed"):
            out.append("retry-failed")
        if counts.get("unknown"):
            out.append("resend-unknown")
    if status in ("ready", "paused", "sending"):
        out.append("cancel")
    return out


async def send_page(request: Request) -> Response:
    require_role(request, "admin")
    web, stored = state(request), _stored(request)
    progress = await run_in_threadpool(ctl.progress, web.db, stored.id)
    history = await run_in_threadpool(list_actions, web.db, stored.id)
    running = web.sends.running(stored.id)
    counts = progress["counts"]
    _ = translator(request)
    eta = datetime.fromisoformat(progress["eta"]) if progress["eta"] else None
    return page(
        request,
        "send.html",
        {
            "e": stored,
            "p": progress,
            "done": progress["total"] - progress["left"],
            "state": state_key(
                {
                    "status": stored.status,
                    "approved_at": stored.approved_at,
                    "needs_approval": stored.needs_approval,
                }
            ),
            "labels": labels(request),
            "ledger_states": [(k, _.gettext(label)) for k, label in LEDGER_STATES],
            "eta": eta,
            "buttons": buttons(stored, counts, running),
            "live": running or progress["senders"] > 0 or stored.status == "sending",
            "error": web.sends.last_error(stored.id),
            "backends": BACKENDS,
            "backend": stored.backend or web.config.web.backend,
            "history": history,
            "message": request.query_params.get("m"),
        },
        headers={"Content-Security-Policy": SCRIPT_CSP},
    )


def _back(request: Request, stored: StoredEdition, message: str | None = None) -> Response:
    url = f"{state(request).base}/editions/{stored.id}/send"
    query = {"lang": chosen(request), "m": message}
    pairs = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    return RedirectResponse(url + (f"?{pairs}" if pairs else ""), 303)


def _reason(form) -> str | None:
    reason = str(form.get("reason", "")).strip()
    return reason[:REASON_MAX] or None


async def act(request: Request) -> Response:
    """One button: POST /editions/{id}/send/{action}."""
    actor = require_role(request, "admin")
    form = await form_with_csrf(request)
    web, stored = state(request), _stored(request)
    action = request.path_params["action"]
    _ = translator(request)
    try:
        if action == "approve":
            await run_in_threadpool(approve_edition, web.db, stored.id, by=actor)
            await run_in_threadpool(record_action, web.db, stored.id, "approve", actor=actor)
            message = _.gettext("Approved by %(name)s.") % {"name": actor}
        elif action in ("start", "resume", "retry-failed", "resend-unknown"):
            if action == "resume" and stored.status != "paused":
                raise ctl.ControlError(f"edition {stored.id} is {stored.status}, not paused")
            backend = str(form.get("backend") or stored.backend or web.config.web.backend)
            if backend not in BACKENDS:
                raise HTTPException(400, N_("Unknown backend."))
            await run_in_threadpool(
                web.sends.start,
                stored.id,
                lambda: web.make_send_backend(backend),
                actor=actor,
                retry_failed=action == "retry-failed",
                resend_unknown=action == "resend-unknown",
                reason=_reason(form) if action == "retry-failed" else None,
            )
            message = _.gettext("Started (%(backend)s).") % {"backend": backend}
        elif action == "pause":
            await run_in_threadpool(ctl.pause, web.db, stored.id, actor=actor)
            message = _.gettext("Pause asked: the send stops after its batch in flight.")
        elif action == "cancel":
            await run_in_threadpool(
                ctl.cancel, web.db, stored.id, actor=actor, reason=_reason(form)
            )
            message = _.gettext("Cancelled: nothing more of this edition will be sent.")
        else:
            raise HTTPException(404, N_("Unknown action."))
    except DigestError as exc:  # the library's refusal, in its own words
        message = _.gettext("Not done: %(reason)s") % {"reason": exc}
    return _back(request, stored, message)


routes = [
    Route("/editions/{edition_id}/send", send_page),
    Route("/editions/{edition_id}/send/{action}", act, methods=["POST"]),
]
