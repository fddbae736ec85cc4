"""SendGrid v3 Mail Send: one request per batch of up to 1,000 recipients.

The edition goes out once per request with its placeholder tokens still in it; each recipient is
one personalization whose ``substitutions`` fill those tokens (HTML-escaped values for the HTML
tokens, raw values for the text tokens), so SendGrid produces exactly what ``Personalizer.fill``
would, and the request carries the ~100 KB body once instead of 1,000 times. Each value goes
once per personalization where it can (sendgrid_subs.py), and the body is serialized once.

We post a plain JSON dict through the ``sendgrid`` library rather than its ``Mail`` helper:
``Mail.add_personalization`` inserts at index 0 (personalizations come out reversed) and the
helper only dedupes addresses inside one personalization. Like every backend, this one builds,
posts and parses; it never sleeps or retries (see digest/delivery/base.py).
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from digest.config import SendGridConfig
from digest.delivery.base import BackendInfo, Outcome, Recipient, SendJob
from digest.delivery.keepalive import KeepAlive
from digest.delivery.message import list_unsubscribe, list_unsubscribe_around
from digest.delivery.sendgrid_subs import JsonBody, Substitutions
from digest.errors import (
    DeliveryAuthError,
    DeliveryRefused,
    DeliveryTooLarge,
    DeliveryTransient,
    DeliveryUncertain,
)
from digest.headers import NAME_MAX, SUBJECT_MAX, address_problem, header_text, one_line

NAME = "sendgrid"
MAX_BATCH = 1000  # personalizations per request, and recipients (to+cc+bcc) per request
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
MAX_DETAIL_CHARS = 1000
JSON = {"Content-Type": "application/json; charset=utf-8"}
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
    body, skipped, _ = _build(job, batch, config)
    return body, skipped


def _build(
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


class Prepared(NamedTuple):
    """One batch's request, ready to post: the outcomes known before posting (recipients the
    request leaves out), the recipients it carries, and its body (None when it carries none)."""

    outcomes: tuple[Outcome, ...]
    included: tuple[Recipient, ...]
    data: JsonBody | None


class SendGridBackend:
    """Posts one request per batch through the official library, and normalizes its answers."""

    max_batch = MAX_BATCH

    def __init__(
        self,
        config: SendGridConfig,
        *,
        client: SendGridAPIClient | None = None,
        clock: Callable[[], float] = time.time,
    ):
        host = config.api_host.rstrip("/")  # the library appends /v3/mail/send itself
        if client is None:
            if not config.api_key:
                # Checked here: the library would silently read the environment itself.
                raise DeliveryAuthError(
                    "no SendGrid API key: set SENDGRID_API_KEY to a key with Mail Send access",
                    backend=NAME,
                )
            client = SendGridAPIClient(config.api_key, host=host)
        client.client.timeout = config.timeout  # the library has no timeout by default
        self._sg = client
        # The Client for /v3/mail/send, built once (the library builds one per attribute), whose
        # requests go over one kept-alive connection (keepalive.py) instead of one each.
        self._send = client.client.mail.send
        self.keep_alive = KeepAlive(timeout=config.timeout, fallback=self._send._make_request)
        self._send._make_request = self.keep_alive.open
        self._subs: dict[int, Substitutions] = {}  # by job (one per locale variant)
        self._secret = config.api_key or ""
        self.config = config
        self.clock = clock
        self.info = BackendInfo(
            name=NAME, destination=f"{host}/v3/mail/send", extra={"sandbox": config.sandbox}
        )

    def send_batch(self, job: SendJob, batch: Sequence[Recipient]) -> list[Outcome]:
        return self.send_prepared(self.prepare(job, batch))

    def prepare(self, job: SendJob, batch: Sequence[Recipient]) -> Prepared:
        """The request for ``batch``, built and serialized, nothing sent: the loop prepares the
        next batch's while the current one is in flight (digest/delivery/ahead.py)."""
        # Each job's substitutions are made once per send. Looked up into a local: the look
        # ahead prepares in its own thread, and a split half may be prepared meanwhile.
        subs = self._subs.get(id(job))
        if subs is None or subs.job is not job:
            subs = self._subs[id(job)] = Substitutions(job)
        body, outcomes, included = _build(job, batch, self.config, subs, encoded=True)
        data = serialize(body) if included else None
        return Prepared(tuple(outcomes), tuple(included), data)

    def send_prepared(self, prepared: Prepared) -> list[Outcome]:
        outcomes = list(prepared.outcomes)
        if prepared.data is None:
            return outcomes
        response = self._post(prepared.data)
        message_id = _header(response.headers, "X-Message-Id")
        outcomes.extend(Outcome(r.subscriber.id, "sent", message_id) for r in prepared.included)
        return outcomes

    def close(self) -> None:
        self.keep_alive.close()

    def _post(self, data: JsonBody):
        host = self.info.destination
        try:
            # Any 2xx: 202 accepted, 200 in sandbox mode. Other codes raise HTTPError.
            return self._send.post(request_body=data, request_headers=JSON)
        except HTTPError as exc:
            raise self._http_error(exc) from None
        # The library does not wrap network errors: they arrive as urllib/socket/http.client ones
        # (keepalive.py keeps urllib's rule). The ambiguity rule: URLError is raised while
        # connecting or writing the request, so SendGrid cannot have the whole body and a
        # retry is safe. Anything raised after
        # the body was written (a timeout or a dropped connection while waiting for the answer)
        # means SendGrid may have accepted it: with no idempotency key, a retry could mail the
        # batch twice, so it is reported uncertain and the loop records it 'unknown'.
        except urllib.error.URLError as exc:  # raised while connecting or sending
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                message = f"SendGrid did not accept a connection within {self.config.timeout:g} s"
            else:
                message = f"could not reach SendGrid at {host}: {reason}"
            raise DeliveryTransient(message, backend=NAME, detail=str(reason)) from exc
        except TimeoutError as exc:
            raise DeliveryUncertain(
                f"SendGrid did not answer within {self.config.timeout:g} s after the request "
                "was sent; it may or may not have been accepted",
                backend=NAME,
                detail=str(exc),
            ) from exc
        except (http.client.HTTPException, OSError) as exc:
            # RemoteDisconnected, ConnectionResetError, IncompleteRead: it may have arrived.
            raise DeliveryUncertain(
                f"SendGrid closed the connection without a complete answer "
                f"({type(exc).__name__}) after the request was sent; it may or may not have "
                "been accepted",
                backend=NAME,
                detail=str(exc),
            ) from exc

    def _http_error(self, exc: HTTPError) -> Exception:
        status = int(exc.status_code)
        detail = self._detail(exc.body)
        said = f": {detail}" if detail else ""
        kw: dict[str, Any] = {"backend": NAME, "status": status, "detail": detail}
        if status in (401, 403):
            extra = "" if status == 401 else " and that it has Mail Send permission"
            return DeliveryAuthError(
                f"SendGrid refused the API key ({status}): check SENDGRID_API_KEY{extra}", **kw
            )
        if status == 413:
            return DeliveryTooLarge(f"SendGrid says the request is too large (413){said}", **kw)
        if status == 429:
            wait = self._retry_after(exc.headers)
            when = f"retry after {wait:g} s" if wait is not None else "retry later"
            return DeliveryTransient(
                f"SendGrid is rate limiting (429): {when}", retry_after=wait, **kw
            )
        if status >= 500:
            return DeliveryTransient(f"SendGrid had a server error ({status}){said}", **kw)
        return DeliveryRefused(f"SendGrid refused the request ({status}){said}", **kw)

    def _detail(self, raw) -> str:
        """The provider's own messages, one line, never the key."""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        raw = raw or ""
        try:
            errors = json.loads(raw)["errors"]
            parts = []
            for e in errors:
                msg = str(e.get("message") or "").strip()
                field = e.get("field")
                parts.append(
                    f"{msg} (field: {field})" if field and msg else msg or str(field or "")
                )
            text = "; ".join(p for p in parts if p)
        except (ValueError, KeyError, TypeError, AttributeError):
            text = raw  # a proxy's HTML or plain text page
        text = one_line(text)
        if self._secret:
            text = text.replace(self._secret, "[redacted]")
        return text[:MAX_DETAIL_CHARS]

    def _retry_after(self, headers) -> float | None:
        """Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (unix time), else None."""
        value = _header(headers, "Retry-After")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    return max(0.0, parsedate_to_datetime(value).timestamp() - self.clock())
                except (TypeError, ValueError, IndexError):
                    pass
        reset = _header(headers, "X-RateLimit-Reset")
        if reset:
            try:
                return max(0.0, float(reset) - self.clock())
            except ValueError:
                pass
        return None


def _header(headers: Mapping | None, name: str) -> str:
    if headers is None:
        return ""
    return (headers.get(name) or "").strip()
