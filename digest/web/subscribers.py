"""Subscribers' pages (public, no login): unsubscribe, preferences, signup, the archive.

Unsubscribe follows RFC 8058: ``GET /u/{token}`` only shows a confirmation page (link scanners
prefetch GETs); ``POST /u/{token}`` unsubscribes, with no cookie, session or CSRF token, answers
200 (never a redirect) and is idempotent. The confirmation page's button posts the same body as a
mail client's one-click POST. It carries no CSRF token on purpose: the signed token in the URL is
the secret that authorizes the change, a forged request would need it, and a page that holds it
(the subscriber's own email) may use it. The worst a cross-site post could do is what the
token's holder can do anyway: unsubscribe that one address from that one list.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging

from email_validator import EmailNotValidError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from digest.errors import StoreError
from digest.i18n import N_, display_name, translations
from digest.normalize import email_key, normalize_email, normalize_locale, normalize_timezone
from digest.store.editions import get_edition, list_editions
from digest.store.erasures import is_erased
from digest.store.preferences import (
    confirm_signup,
    get_timezone,
    memberships_of,
    set_locale,
    set_membership,
    set_timezone,
)
from digest.store.schema import utcnow
from digest.store.signups import claim_confirmation, release_confirmation
from digest.store.subscribers import get_subscriber, unsubscribe
from digest.web.drafts import filled, view
from digest.web.language import languages, page_language, translator
from digest.web.mail import send_notice
from digest.web.pages import page, state
from digest.web.session import client_ip, form_with_csrf
from digest.zones import available

log = logging.getLogger("digest.web")
SIGNUP_MAX_AGE = 7 * 24 * 3600


@functools.cache
def zone_names() -> list[str]:
    """The zones a reader may pick: the tzdata package's, Area/City names, sorted."""
    return sorted(
        z for z in available() if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/"))
    )


def _who(request: Request):
    """(subscriber, list name) from the signed token in the URL; 400 if forged."""
    sid, list_name = state(request).signer.read(request.path_params["token"])
    return get_subscriber(state(request).db, sid), list_name


async def unsubscribe_page(request: Request):
    web = state(request)
    # The token alone decides (400 if forged); the database is only met in the thread pool,
    # never on the event loop, whose every request would otherwise wait behind the read.
    sid, list_name = web.signer.read(request.path_params["token"])
    title = web.config.list_config(list_name).title
    if request.method == "GET":
        # The page speaks the subscriber's language: one read, in the thread pool.
        subscriber = await run_in_threadpool(get_subscriber, web.db, sid)
        locale = subscriber.locale if subscriber else None
        return page(request, "unsubscribe.html", {"title": title, "done": False}, locale=locale)
    # No form parsing requirement beyond reading it: RFC 8058 clients post
    # "List-Unsubscribe=One-Click" (urlencoded or multipart); the token alone decides.
    await request.form()
    locale = await run_in_threadpool(_one_click, web.db, sid, list_name)
    return page(request, "unsubscribe.html", {"title": title, "done": True}, locale=locale)


def _one_click(db, subscriber_id: int, list_name: str) -> str | None:
    """The subscriber behind the token leaves the list (nothing if they are gone); their
    locale, for the page that says so."""
    subscriber = get_subscriber(db, subscriber_id)
    if subscriber is None:
        return None
    try:
        unsubscribe(db, subscriber.email, list_name, source="one-click")
    except StoreError:  # the list is gone: they are on it no more than before; still 200
        log.warning("one-click unsubscribe for a list that no longer exists")
    return subscriber.locale


async def preferences(request: Request):
    web = state(request)
    subscriber, list_name = _who(request)
    if subscriber is None:
        raise HTTPException(404, N_("This subscription no longer exists."))
    saved = False
    if request.method == "POST":
        form = await form_with_csrf(request)
        wanted = set(form.getlist("lists"))
        for name, lst in web.config.lists.items():
            set_membership(web.db, subscriber.id, name, name in wanted, title=lst.title)
        locale = normalize_locale(str(form.get("locale", "")))
        # A language with a catalog, or the one already stored (fr_MA, set by an import):
        # saving the form must not reset a locale the select does not list.
        keep = locale in languages() or (locale is not None and locale == subscriber.locale)
        set_locale(web.db, subscriber.id, locale if keep else None)
        # An unknown zone (a forged form) means the site's: never stored as given.
        set_timezone(web.db, subscriber.id, normalize_timezone(str(form.get("timezone", ""))))
        subscriber, saved = get_subscriber(web.db, subscriber.id), True
    members = memberships_of(web.db, subscriber.id)
    lists = [
        (name, lst.title, members.get(name) == "active") for name, lst in web.config.lists.items()
    ]
    offered = languages()
    if subscriber.locale and subscriber.locale not in offered:
        offered[subscriber.locale] = display_name(subscriber.locale)
    return page(
        request,
        "preferences.html",
        {
            "lists": lists,
            "locale": subscriber.locale or "",
            "languages": offered,
            "email": subscriber.email,
            "saved": saved,
            "list_name": list_name,
            "zones": zone_names(),
            "timezone": get_timezone(web.db, subscriber.id) or "",
            "site_timezone": web.config.site.timezone,
        },
        locale=subscriber.locale,
    )


def _address_key(secret: str, address: str) -> str:
    """What signup_confirmations keeps instead of the address: an HMAC under the app's key."""
    return hmac.new(
        secret.encode(), b"digest.signup:" + email_key(address).encode(), hashlib.sha256
    ).hexdigest()


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state(request).secret, salt="digest.signup")


async def signup(request: Request):
    web = state(request)
    lists = {name: lst.title for name, lst in web.config.lists.items()}
    offered = languages()
    if request.method == "GET":
        return page(request, "signup.html", {"lists": lists, "languages": offered})
    form = await form_with_csrf(request)
    if not web.signup_limit.allow(client_ip(request)):
        raise HTTPException(429)
    list_name = str(form.get("list", ""))
    picked = str(form.get("locale", ""))
    locale = picked if picked in offered else None
    # The page and the confirmation email speak the language picked, else the page's.
    lang = page_language(request, locale)
    _ = translator(request)
    # The confirmation email speaks the language picked for the digest, else the page's.
    mail = translations(locale or lang)
    try:
        address = normalize_email(str(form.get("email", "")).strip())
    except EmailNotValidError as exc:
        error = _.gettext("This is not an email address that can receive mail: %(reason)s") % {
            "reason": str(exc)
        }
        return page(
            request,
            "signup.html",
            {"lists": lists, "languages": offered, "error": error},
            status=400,
            locale=lang,
        )
    if list_name not in lists:
        raise HTTPException(400, N_("Choose one of the lists."))
    token = _serializer(request).dumps([address, list_name, locale])
    link = f"{web.config.site.public_url}/confirm/{token}"
    # One confirmation per address per hour, whatever the client: the form must not become a
    # way to flood someone's inbox from many addresses. The page says the same either way.
    key, now = _address_key(web.secret, address), utcnow()
    # An address erased on request is never mailed again, not even a confirmation.
    if await run_in_threadpool(is_erased, web.db, address):
        return _check_your_inbox(request, lang)
    if not await run_in_threadpool(claim_confirmation, web.db, key, now=now):
        return _check_your_inbox(request, lang)
    try:
        await run_in_threadpool(
            send_notice,
            web.config,
            web.make_backend(),
            to=address,
            subject=mail.gettext("%(site)s: confirm your subscription")
            % {"site": web.config.site.name},
            lines=[
                mail.gettext("Someone (we hope you) asked to receive %(list)s at this address.")
                % {"list": lists[list_name]},
                mail.gettext(
                    "Follow this link to confirm; if it was not you, ignore this message and "
                    "nothing will happen."
                ),
            ],
            link=link,
            locale=locale or lang,
        )
    except Exception:
        log.exception("signup confirmation to a new address failed")
        await run_in_threadpool(release_confirmation, web.db, key, sent_at=now)
    return _check_your_inbox(request, lang)


def _check_your_inbox(request: Request, lang: str):
    # The same answer for every address, known or not: the form reveals nothing.
    _ = translator(request, lang)
    return page(
        request,
        "message.html",
        {
            "heading": _.gettext("Check your inbox"),
            "text": _.gettext(
                "If the address can receive mail, a message with a confirmation link is on "
                "its way. Nothing is subscribed until the link is followed."
            ),
        },
        locale=lang,
    )


async def confirm(request: Request):
    web = state(request)
    try:
        address, list_name, locale = _serializer(request).loads(
            request.path_params["token"], max_age=SIGNUP_MAX_AGE
        )
    except (BadSignature, ValueError):
        raise HTTPException(
            400, N_("This confirmation link is not valid or has expired: sign up again.")
        ) from None
    title = web.config.list_config(list_name).title
    if request.method == "GET":  # scanners prefetch links: GET only asks
        return page(request, "confirm.html", {"title": title}, locale=locale)
    await form_with_csrf(request)
    added = await run_in_threadpool(
        confirm_signup, web.db, address, list_name, locale=locale, title=title
    )
    _ = translator(request, locale)
    if added is None:  # erased on request since the link was mailed: never added again
        raise HTTPException(409, N_("This address was erased on request and cannot be subscribed."))
    return page(
        request,
        "message.html",
        {
            "heading": _.gettext("Subscribed"),
            "text": _.gettext("You will receive %(list)s.") % {"list": title},
        },
        locale=locale,
    )


async def general(request: Request):
    """Where the links of archived and test emails lead: nobody's subscription."""
    _ = translator(request)
    return page(
        request,
        "message.html",
        {
            "heading": _.gettext("Your own link"),
            "text": _.gettext(
                "To unsubscribe or change your preferences, use the link at the bottom of an "
                "email you received: it is made for your address alone."
            ),
        },
    )


async def archive(request: Request):
    rows = [r for r in list_editions(state(request).db, limit=500) if r["status"] == "sent"]
    return page(request, "archive.html", {"editions": rows})


async def archived(request: Request):
    web = state(request)
    stored = get_edition(web.db, request.path_params["edition_id"])
    if stored is None or stored.status != "sent":  # drafts are not public
        raise HTTPException(404, N_("There is no such edition in the archive."))
    # ?lang=ar: that locale's variant (the link in its emails says so); else the default one.
    stored = view(stored, request.query_params.get("lang") or None)
    html, _ = filled(web.config, stored)  # preview values: no name, no working link
    return HTMLResponse(html)


routes = [
    Route("/u/{token}", unsubscribe_page, methods=["GET", "POST"]),
    Route("/p/{token}", preferences, methods=["GET", "POST"]),
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
    Route("/unsubscribe", general),
    Route("/preferences", general),
    Route("/archive", archive),
    Route("/archive/{edition_id}", archived),
]
