"""The SendGrid v3 Mail Send request for one batch: built from the edition rendered once and each
recipient's values, pure (no I/O), so it is tested without HTTP. The backend that posts it is
sendgrid.py; each value goes once per personalization where it can (sendgrid_subs.py).

We write a plain JSON body rather than use the library's ``Mail`` helper:
``Mail.add_personalization`` inserts at index 0 (personalizations come out reversed) and the
helper only dedupes addresses inside one personalization.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii

from digest.config import SendGridConfig
from digest.delivery.base import Outcome, Recipient, SendJob
from digest.delivery.message import list_unsubscribe, list_unsubscribe_around
from digest.delivery.sendgrid_subs import JsonBody, Substitutions
from digest.errors import DeliveryRefused
from digest.headers import NAME_MAX, SUBJECT_MAX, address_problem, header_text

NAME = "sendgrid"
MAX_BATCH = 1000  # personalizations per request, and recipients (to+cc+bcc) per request
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
# Cheap sanity check only (the store validated addresses on import): one garbage address would
# make SendGrid refuse the whole request with a 400, failing 999 good recipients with it.
_ADDRESS = re.compile(r"[^\s@<>,;\"()\[\]\\]+@[^\s@<>,;\"()\[\]\\]+\.[^\s@<>,;\"()\[\]\\]+\Z")


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # compact, ASCII (\u escapes)
_ENCODE = encode_basestring_ascii  # one string as JSON: what _ENCODER does for each
_ONE_CLICK = '"List-Unsubscribe-Post":"List-Unsubscribe=One-Click"'


def json_bytes(obj) -> int:
    """Size of ``obj`` as compact UTF-8 JSON: how we measure SendGrid's 10,000-byte limits.
    (SendGrid does not say how it counts; this is at least the raw keys and values.)"""
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def recipient_name(name: str) -> str:
    """SendGrid refuses a ``to.name`` containing ``;`` or ``,`` (400 for the whole request).
    SendGrid writes the MIME itself: the name must hold nothing a mail parser would decode."""
    # The common clean name, once per recipient: what header_text would give back unchanged.
    if (
        len(name) <= NAME_MAX
        and name.isprintable()
        and ";" not in name
        and "," not in name
        and "=?" not in name
        and "  " not in name
        and name == name.strip()
    ):
        return name
    return header_text(name.replace(";", " ").replace(",", " "), NAME_MAX)


def categories(job: SendJob, config: SendGridConfig) -> list[str]:
    """The list name and edition id first (they group stats per list and per edition), then the
    configured ones: unique, non-empty, at most 10 of at most 255 characters (else a 400)."""
    seen: dict[str, None] = {}
    for name in (job.edition.list_name, job.edition.id, *config.categories):
        name = header_text(name)[:MAX_CATEGORY_CHARS]  # an identifier: cut, no ellipsis
        if name:
            seen.setdefault(name, None)
    return list(seen)[:MAX_CATEGORIES]


def build_request(
    job: SendJob, batch: Sequence[Recipient], config: SendGridConfig
) -> tuple[dict, list[Outcome]]:
    """The Mail Send body for ``batch`` (personalizations in batch order), and an Outcome for
    each recipient left out of it. Pure: no I/O, so it is tested without HTTP."""
    body, skipped, _ = build_body(job, batch, config)
    return body, skipped


def build_body(
    job, batch, config, subs_maker: Substitutions | None = None, *, encoded: bool = False
) -> tuple[dict, list[Outcome], list[Recipient]]:
    """``encoded``: each personalization comes as its JSON text (``serialize`` puts the body
    together), written straight from its strings: a third of the cost of building dicts for
    the encoder to walk, 1,000 times a request."""
    if len(batch) > MAX_BATCH:
        raise ValueError(
            f"a SendGrid request takes at most {MAX_BATCH} recipients, not {len(batch)}"
        )
    if not job.from_email.isascii():
        raise DeliveryRefused(
            f"SendGrid refuses a non-ASCII From address: {job.from_email!r}; change sender.email",
            backend=NAME,
        )
    for what, address in (
        ("sender.email", job.from_email),
        ("sender.reply_to", job.reply_to),
        ("sender.unsubscribe_mailto", job.unsubscribe_mailto),
    ):
        problem = address and address_problem(address)
        if problem:
            raise DeliveryRefused(f"the {what} address {address!r} {problem}", backend=NAME)
    skipped = []
    candidates = []
    seen: set[str] = set()
    for recipient in batch:
        sid = recipient.subscriber.id
        email = recipient.subscriber.email.strip()
        key = email.lower()
        if key in seen:
            # Each address at most once per request, or SendGrid refuses all of it (400).
            skipped.append(Outcome(sid, "retry", "address already in this request"))
            continue
        if not _ADDRESS.match(email) or address_problem(email):
            skipped.append(Outcome(sid, "failed", "not an address SendGrid accepts"))
            continue
        seen.add(key)
        candidates.append((recipient, email))
    subs_maker = (
        subs_maker if subs_maker is not None and subs_maker.job is job else Substitutions(job)
    )
    rows = subs_maker.rows([r.values for r, _ in candidates])
    text, html = rows.content
    mailto = job.unsubscribe_mailto
    keys = [_ENCODE(k) + ":" for k in rows.keys]  # each token as JSON once per request
    tokens = rows.links.tokens if rows.links else None
    if rows.links:  # the links as one token: written around it, no per-reader check
        link = _ENCODE(rows.links.key) + ':"'
        around = [_ENCODE(p)[1:-1] for p in list_unsubscribe_around(rows.links.prefixes[0], mailto)]
    personalizations: list = []  # dicts, or their JSON texts when encoded
    included = []
    for i, ((recipient, email), row) in enumerate(zip(candidates, rows.values, strict=True)):
        sid = recipient.subscriber.id
        subs_json = ",".join([k + _ENCODE(v) for k, v in zip(keys, row, strict=True)])
        if tokens is not None:
            token = tokens[i]
            subs_json = link + token + ('",' + subs_json if subs_json else '"')
        # ASCII JSON is never shorter than the UTF-8 JSON SendGrid counts: exact only if over.
        size = len(subs_json) + 2
        if size > MAX_SUBSTITUTION_BYTES:
            size = json_bytes(rows.as_dict(i))
        if size > MAX_SUBSTITUTION_BYTES:
            skipped.append(
                Outcome(
                    sid,
                    "failed",
                    f"personal values are {size} bytes, over SendGrid's "
                    f"{MAX_SUBSTITUTION_BYTES:,}-byte substitutions limit",
                )
            )
            continue
        name = recipient_name(recipient.subscriber.name or "")
        if encoded:
            if tokens is not None:
                unsubscribe = (
                    '"' + around[0] + token + around[1] + (token + around[2] if mailto else "")
                ) + '"'
            else:
                unsubscribe = _ENCODE(list_unsubscribe(recipient.values["unsubscribe_url"], mailto))
            personalizations.append(
                '{"to":[{"email":'
                + _ENCODE(email)
                + (',"name":' + _ENCODE(name) if name else "")
                + '}],"substitutions":{'
                + subs_json
                + '},"headers":{"List-Unsubscribe":'
                + unsubscribe
                + ","
                + _ONE_CLICK
                + (
                    '},"custom_args":{"delivery_id":"' + str(recipient.delivery_id) + '"}}'
                    if recipient.delivery_id is not None
                    else "}}"
                )
            )
            included.append(recipient)
            continue
        to = {"email": email}
        if name:
            to["name"] = name
        p = {
            "to": [to],
            "substitutions": rows.as_dict(i),
            # Per personalization: each recipient's own signed link (RFC 8058 one-click).
            "headers": {
                "List-Unsubscribe": list_unsubscribe(recipient.values["unsubscribe_url"], mailto),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        }
        if recipient.delivery_id is not None:
            # The ledger row comes back on every webhook event; it is not personal data.
            p["custom_args"] = {"delivery_id": str(recipient.delivery_id)}
        personalizations.append(p)
        included.append(recipient)

    sender = {"email": job.from_email}
    from_name = header_text(job.from_name, NAME_MAX)
    if from_name:
        sender["name"] = from_name
    body: dict = {
        "personalizations": personalizations,
        "from": sender,
        # SendGrid builds the MIME itself: every header value is made safe here, as for SMTP.
        "subject": header_text(job.rendered.subject, SUBJECT_MAX),
        # text/plain must come first. The parts keep tokens: SendGrid fills them.
        "content": [
            {"type": "text/plain", "value": text},
            {"type": "text/html", "value": html},
        ],
        "headers": {"List-Id": header_text(job.list_id)},
        # Message level, so every event of the send finds its edition; never personal data.
        "custom_args": {"edition_id": job.edition.id, "list": job.edition.list_name},
        "categories": categories(job, config),
    }
    if job.reply_to:
        body["reply_to"] = {"email": job.reply_to}
    if config.asm_group_id is not None:
        body["asm"] = {"group_id": config.asm_group_id}
    if config.sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body, skipped, included


def serialize(body: dict) -> JsonBody:
    """An ``encoded`` body as the request's JSON, sent as it is (see JsonBody). Compact and
    ASCII (\\u escapes), so no value can fail to encode (a lone surrogate in a name would, as
    UTF-8)."""
    rest = dict(body)
    personalizations = rest.pop("personalizations")
    return JsonBody(
        '{"personalizations":[' + ",".join(personalizations) + "]," + _ENCODER.encode(rest)[1:]
    )
