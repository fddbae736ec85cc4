"""SendGrid v3 Mail Send: one request per batch of up to 1,000 recipients.

The edition goes out once per request with its placeholder tokens still in it; each recipient is
one personalization whose ``substitutions`` fill those tokens (HTML-escaped values for the HTML
tokens, raw values for the text tokens), so SendGrid produces exactly what ``Personalizer.fill``
would, and the request carries the ~100 KB body once instead of 1,000 times. Each value goes
once per personalization where it can (sendgrid_subs.py), and the body is serialized once
(sendgrid_request.py builds it). Like every backend, this one builds, posts through the
``sendgrid`` library and parses; it never sleeps or retries (see digest/delivery/base.py).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from digest.config import SendGridConfig
from digest.delivery.base import BackendInfo, Outcome, Recipient, SendJob
from digest.delivery.keepalive import KeepAlive
from digest.delivery.sendgrid_request import (
    MAX_BATCH,
    NAME,
    build_body,
    build_request,
    categories,
    serialize,
)
from digest.delivery.sendgrid_subs import JsonBody, Substitutions
from digest.errors import (
    DeliveryAuthError,
    DeliveryRefused,
    DeliveryTooLarge,
    DeliveryTransient,
    DeliveryUncertain,
)
from digest.headers import one_line

# Where tests and callers have always found them: the request is built in sendgrid_request.py.
__all__ = ["MAX_BATCH", "NAME", "Prepared", "SendGridBackend", "build_request", "categories"]

MAX_DETAIL_CHARS = 1000
JSON = {"Content-Type": "application/json; charset=utf-8"}


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
        body, outcomes, included = build_body(job, batch, self.config, subs, encoded=True)
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
