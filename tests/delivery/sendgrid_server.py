"""A SendGrid-like Mail Send server on loopback, for tests and benchmarks.

    with SendGridServer(api_key="SG.test") as server:
        config = SendGridConfig(api_host=server.url, api_key="SG.test", timeout=0.5)
        server.script(["429", "ok", "500", "drop"])   # then "ok" forever
        ...
        assert server.violations == []
        assert Counter(server.delivered_addresses()) == ...   # exactly once

Every POST /v3/mail/send is checked like SendGrid would: bearer key (401 otherwise), then the
official request schema (tests/fixtures/sendgrid/tsg_mail_v3.json, patched for its known quirks)
on the body with its personalizations cut to the first two (schema validation of 1,000 of them
would cost ~100x more), then the documented limits over ALL personalizations in plain Python.
A broken request answers 400 with SendGrid's error body and is recorded in ``violations``.

Script kinds, consumed one per request, then "ok" forever (an optional ":N" sets a number):
  ok                 202 + X-Message-Id (200 when mail_settings.sandbox_mode.enable)
  400 401 403 413    that status with a SendGrid-style error body
  429[:N]            429, Retry-After: N (default ``retry_after``) and X-RateLimit-Reset
  429-reset          429 with X-RateLimit-Reset only (no Retry-After)
  500 503            that status with a SendGrid-style error body
  502                502 with an HTML body, as a load balancer would
  hang[:N]           read the request, hold the connection N s (default ``hang_seconds``), then
                     close without answering; other requests and shutdown are not held up
  drop               read the request, close the socket without any answer
  drop-after-accept  record the request as accepted, then close without answering: the client
                     cannot know it arrived (the loop records it unknown, never retries it)
  ok-then-close      as ok, then close the connection without saying so (no "Connection:
                     close"), as a server's idle timeout would: the next request must not be
                     written to it

``connections`` counts the TCP connections the clients opened.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "sendgrid" / "tsg_mail_v3.json"
PATH = "/v3/mail/send"
KINDS = {
    "ok",
    "400",
    "401",
    "403",
    "413",
    "429",
    "429-reset",
    "500",
    "502",
    "503",
    "hang",
    "drop",
    "drop-after-accept",
    "ok-then-close",
}
FORBIDDEN_HEADERS = {
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
    "content-type",
    "content-transfer-encoding",
    "dkim-signature",
    "received",
    "x-sg-id",
    "x-sg-eid",
}
LIMIT = 1000
LIMIT_BYTES = 10_000
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

ERRORS = {
    401: ("The provided authorization grant is invalid, expired, or revoked", None),
    403: ("access forbidden", None),
    400: (
        "The from address does not match a verified Sender Identity. Mail cannot be sent until "
        "this error is resolved.",
        "from",
    ),
    413: ("The JSON payload you have included in your request is too large.", None),
    429: ("too many requests", None),
    500: ("Internal server error", None),
    503: ("Service unavailable", None),
}


@lru_cache(maxsize=1)
def validator() -> jsonschema.Draft202012Validator:
    """The official request body schema with its refs resolvable and its quirks patched."""
    doc = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    schema = copy.deepcopy(
        doc["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    )
    # Quirk: top-level custom_args is typed "string", but the API takes an object of strings.
    schema["properties"]["custom_args"] = {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    # "#/components/schemas/MailTo" refs resolve against the document root: give it one.
    schema["components"] = doc["components"]
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def json_bytes(obj) -> int:
    """How the 10,000-byte limits are measured here: compact UTF-8 JSON (strict on purpose)."""
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _over(mapping: dict, limit: int = LIMIT_BYTES) -> int:
    """json_bytes(mapping) when it may exceed ``limit``, else 0 (a JSON character takes at
    most 6 bytes: cheap to rule out, and this runs for each of 1,000 personalizations)."""
    if 2 + sum(6 * (len(str(k)) + len(str(v)) + 1) for k, v in mapping.items()) <= limit:
        return 0
    size = json_bytes(mapping)
    return size if size > limit else 0


def check_request(body) -> list[tuple[str, str | None]]:
    """(message, field) for every rule ``body`` breaks; empty when SendGrid would accept it."""
    if not isinstance(body, dict):
        return [("The request body must be a JSON object.", None)]
    problems = []
    ps = body.get("personalizations")
    head = dict(body)
    if isinstance(ps, list):
        head["personalizations"] = ps[:2]
    for err in validator().iter_errors(head):
        field = ".".join(str(p) for p in err.absolute_path) or None
        problems.append((f"schema: {err.message[:300]}", field))
    if not isinstance(ps, list) or not ps:
        problems.append(
            (
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
            )
        )
        return problems
    if len(ps) > LIMIT:
        problems.append((f"{len(ps)} personalizations; at most {LIMIT}.", "personalizations"))

    base_args = body.get("custom_args") if isinstance(body.get("custom_args"), dict) else {}
    _check_strings(problems, base_args, "custom_args")
    _check_headers(problems, body.get("headers"), "headers")
    seen: dict[str, str] = {}
    total = 0
    for i, p in enumerate(ps):
        where = f"personalizations.{i}"
        if not isinstance(p, dict):
            problems.append(("A personalization must be an object.", where))
            continue
        if not isinstance(p.get("to"), list) or not p["to"]:
            problems.append(
                (
                    "The to array is required for all personalization objects, and "
                    "must have at least one email object with a valid email address.",
                    f"{where}.to",
                )
            )
        for kind in ("to", "cc", "bcc"):
            people = p.get(kind) or []
            if not isinstance(people, list):
                problems.append((f"{kind} must be an array.", f"{where}.{kind}"))
                continue
            for j, person in enumerate(people):
                field = f"{where}.{kind}.{j}"
                total += 1
                email = person.get("email") if isinstance(person, dict) else None
                if not isinstance(email, str) or "@" not in email:
                    problems.append(("Does not contain a valid address.", f"{field}.email"))
                    continue
                key = email.strip().lower()
                if key in seen:
                    problems.append(
                        (
                            "Each email address in the personalization block should be unique "
                            "between to, cc, and bcc. We found the first duplicate instance of "
                            f"[{email}] in the {field} field (first seen in {seen[key]}).",
                            f"{field}.email",
                        )
                    )
                else:
                    seen[key] = field
                name = person.get("name")
                if name is not None and (
                    not isinstance(name, str)
                    or ";" in name
                    or "," in name
                    or "\r" in name
                    or "\n" in name
                ):
                    problems.append(
                        ("The name cannot contain ';', ',' or a line break.", f"{field}.name")
                    )
        subs = p.get("substitutions")
        if subs is not None:
            if str(body.get("template_id", "")).startswith("d-"):
                problems.append(
                    (
                        "Substitutions cannot be used with a dynamic template.",
                        f"{where}.substitutions",
                    )
                )
            _check_strings(problems, subs, f"{where}.substitutions")
            if isinstance(subs, dict) and (size := _over(subs)):
                problems.append(
                    (
                        f"Substitutions are {size} bytes; at most {LIMIT_BYTES}.",
                        f"{where}.substitutions",
                    )
                )
        args = p.get("custom_args")
        if args is not None:
            _check_strings(problems, args, f"{where}.custom_args")
        merged = {**base_args, **(args if isinstance(args, dict) else {})}
        if size := _over(merged):
            problems.append(
                (f"custom_args are {size} bytes; at most {LIMIT_BYTES}.", f"{where}.custom_args")
            )
        _check_headers(problems, p.get("headers"), f"{where}.headers")
    if total > LIMIT:
        problems.append(
            (
                f"{total} recipients (to, cc and bcc); at most {LIMIT} per request.",
                "personalizations",
            )
        )

    sender = body.get("from")
    if (
        isinstance(sender, dict)
        and isinstance(sender.get("email"), str)
        and not sender["email"].isascii()
    ):
        problems.append(
            ("The from email does not contain a valid address (no Unicode).", "from.email")
        )
    if "reply_to" in body and "reply_to_list" in body:
        problems.append(("Use reply_to or reply_to_list, not both.", "reply_to"))
    content = body.get("content")
    if not body.get("template_id") and not content:
        problems.append(
            (
                "Unless a valid template_id is provided, the content parameter is required.",
                "content",
            )
        )
    if isinstance(content, list):
        types = [c.get("type") for c in content if isinstance(c, dict)]
        if "text/plain" in types and types[0] != "text/plain":
            problems.append(("If present, text/plain content must be first.", "content"))
        if "text/html" in types and any(
            t != "text/plain" for t in types[: types.index("text/html")]
        ):
            problems.append(("text/html content must come right after text/plain.", "content"))
    if (
        not body.get("template_id")
        and not body.get("subject")
        and not all(isinstance(p, dict) and p.get("subject") for p in ps)
    ):
        problems.append(("The subject is required.", "subject"))
    return problems


def _check_strings(problems, mapping, field) -> None:
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        problems.append(("Must be an object of string keys and string values.", field))


def _check_headers(problems, headers, field) -> None:
    if headers is None:
        return
    _check_strings(problems, headers, field)
    if not isinstance(headers, dict):
        return
    for name, value in headers.items():
        if str(name).lower() in FORBIDDEN_HEADERS:
            problems.append((f"The header {name} cannot be set.", f"{field}.{name}"))
        if isinstance(value, str) and ("\r" in value or "\n" in value):
            problems.append((f"The header {name} must be one line.", f"{field}.{name}"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.owner._lock:
            self.server.owner.connections += 1

    def do_GET(self):
        if self.path == "/_stats":  # for benchmarks that run the server in another process
            self._answer(200, json.dumps(self.server.owner.stats()).encode())
            return
        self._answer(405, _error_body("Method not allowed", None))

    def do_POST(self):
        owner = self.server.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != PATH:
            owner._log(404, self.path)
            return self._answer(404, _error_body(f"no such path {self.path}", None))
        kind, arg = owner._next()
        if kind in ("hang", "drop"):
            owner._log(kind, kind)
            if kind == "hang":
                owner._stopping.wait(float(arg) if arg else owner.hang_seconds)
            self.close_connection = True
            return
        if (
            kind not in ("401", "403")
            and self.headers.get("Authorization") != f"Bearer {owner.api_key}"
        ):
            owner._log(401, "bad key")
            return self._answer(401, _error_body(*ERRORS[401]))
        try:
            body = json.loads(raw)
        except ValueError as exc:
            problems = [(f"Bad Request: {exc}", None)]
            body = None
        else:
            problems = check_request(body)
        if problems:
            owner._violation(problems)
            if kind in ("ok", "drop-after-accept", "ok-then-close"):
                owner._log(400, "violation")
                return self._answer(
                    400,
                    json.dumps(
                        {"errors": [{"message": m, "field": f, "help": HELP} for m, f in problems]}
                    ).encode(),
                )
        if kind == "ok-then-close":
            self.close_connection = True
            kind = "ok"
        if kind in ("ok", "drop-after-accept"):
            message_id = owner._accept(body)
            if owner.delay:  # a slower provider: batches stay in flight long enough to see
                time.sleep(owner.delay)
            if owner.on_accept is not None:  # e.g. cut the database before the answer goes
                owner.on_accept(len(owner.message_ids))
            if kind == "drop-after-accept":
                owner._log(kind, message_id)
                self.close_connection = True
                return
            sandbox = (body.get("mail_settings") or {}).get("sandbox_mode", {}).get("enable")
            owner._log(200 if sandbox else 202, message_id)
            return self._answer(200 if sandbox else 202, b"", {"X-Message-Id": message_id})
        status = int(kind[:3])
        owner._log(status, kind)
        if status == 502:
            return self._answer(
                502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
            )
        extra = {}
        if kind == "429":
            extra["Retry-After"] = arg or f"{owner.retry_after:g}"
        return self._answer(status, _error_body(*ERRORS[status]), extra)

    def _answer(
        self,
        status: int,
        payload: bytes,
        headers: dict | None = None,
        content_type: str = "application/json",
    ) -> None:
        owner = self.server.owner
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-RateLimit-Limit", str(owner.ratelimit_limit))
        self.send_header(
            "X-RateLimit-Remaining", str(max(0, owner.ratelimit_limit - owner.attempts))
        )
        self.send_header("X-RateLimit-Reset", str(owner.ratelimit_reset or int(time.time()) + 60))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _error_body(message: str, field: str | None) -> bytes:
    return json.dumps({"errors": [{"message": message, "field": field, "help": None}]}).encode()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must never hold up shutdown
    block_on_close = False
    request_queue_size = 64
    owner: SendGridServer


class SendGridServer:
    """Context manager; ``.url`` is the api_host to give the backend (no trailing slash).

    ``keep_bodies=False`` keeps only the delivered addresses (for 100,000-recipient benchmarks).
    """

    def __init__(
        self,
        api_key: str = "SG.test-key",
        *,
        keep_bodies: bool = True,
        retry_after: float = 1,
        hang_seconds: float = 10.0,
        ratelimit_limit: int = 600,
        ratelimit_reset: int | None = None,
    ):
        self.api_key = api_key
        self.keep_bodies = keep_bodies
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.ratelimit_limit = ratelimit_limit
        self.ratelimit_reset = ratelimit_reset  # unix time; default: a minute from each answer
        self.delay = 0.0  # seconds an accepted request waits before its answer
        self.on_accept: Callable[[int], None] | None = None  # (requests accepted so far)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._script: deque[str] = deque()
        self._requests: list[dict] = []
        self._message_ids: list[str] = []
        self._addresses: list[str] = []
        self._violations: list[list[tuple[str, str | None]]] = []
        self._answers: list[tuple[int | str, str]] = []
        self.attempts = 0
        self.connections = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> SendGridServer:
        validator()  # load and compile the schema before the first request is timed
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="sendgrid-test-server",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any "hang" handler
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None

    def __enter__(self) -> SendGridServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting and inspection ---------------------------------------------------------
    def script(self, kinds: Iterable[str]) -> None:
        """Queue answers, one per request to /v3/mail/send; "ok" forever once the queue is empty."""
        kinds = list(kinds)
        for item in kinds:
            if item.partition(":")[0] not in KINDS:
                raise ValueError(f"unknown script kind {item!r}; known: {sorted(KINDS)}")
        with self._lock:
            self._script.extend(kinds)

    @property
    def requests(self) -> list[dict]:
        """Accepted request bodies, in arrival order (empty with keep_bodies=False)."""
        with self._lock:
            return list(self._requests)

    @property
    def message_ids(self) -> list[str]:
        with self._lock:
            return list(self._message_ids)

    @property
    def violations(self) -> list[list[tuple[str, str | None]]]:
        """One list of (message, field) per request that broke a rule."""
        with self._lock:
            return list(self._violations)

    @property
    def answers(self) -> list[tuple[int | str, str]]:
        """(status or fault kind, message id or reason) for every request, in order."""
        with self._lock:
            return list(self._answers)

    def delivered_addresses(self) -> list[str]:
        """Every ``to`` address of every accepted request, as sent (for exactly-once checks)."""
        with self._lock:
            return list(self._addresses)

    def stats(self) -> dict:
        with self._lock:
            return {
                "attempts": self.attempts,
                "delivered": len(self._addresses),
                "unique": len({a.lower() for a in self._addresses}),
                "violations": len(self._violations),
                "connections": self.connections,
            }

    def clear(self) -> None:
        with self._lock:
            for store in (
                self._script,
                self._requests,
                self._message_ids,
                self._addresses,
                self._violations,
                self._answers,
            ):
                store.clear()
            self.attempts = 0
            self.connections = 0

    # -- called by the handler threads ----------------------------------------------------
    def _next(self) -> tuple[str, str]:
        with self._lock:
            self.attempts += 1
            item = self._script.popleft() if self._script else "ok"
        kind, _, arg = item.partition(":")
        return kind, arg

    def _accept(self, body: dict) -> str:
        message_id = secrets.token_urlsafe(16)
        addresses = [t["email"] for p in body["personalizations"] for t in p["to"]]
        with self._lock:
            if self.keep_bodies:
                self._requests.append(body)
            self._message_ids.append(message_id)
            self._addresses.extend(addresses)
        return message_id

    def _violation(self, problems) -> None:
        with self._lock:
            self._violations.append(problems)

    def _log(self, status, note) -> None:
        with self._lock:
            self._answers.append((status, note))


if __name__ == "__main__":
    # A server in its own process (benchmarks: the sender's memory and CPU measured alone).
    # Prints its URL, then serves until stdin closes.
    import sys

    with SendGridServer(
        api_key=sys.argv[1] if len(sys.argv) > 1 else "SG.test-key", keep_bodies=False
    ) as server:
        if len(sys.argv) > 2:  # seconds per accepted request: a provider's round trip
            server.delay = float(sys.argv[2])
        print(server.url, flush=True)
        sys.stdin.read()
