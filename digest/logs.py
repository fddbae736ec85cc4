"""Log lines for the scheduler: readable text, or one JSON object per line for a log shipper.

Callers pass the structured part as ``extra`` (event, list, edition, counts, reason); the JSON
form keeps exactly those keys, so a monitor can filter on ``event`` and ``list`` without parsing
sentences.

Every line goes through ``RedactSecrets`` first: log files are read by more people, and kept
longer, than the database, so no key and no subscriber's token may reach one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

from digest.visible import visible

FIELDS = ("event", "list", "schedule", "edition", "counts", "reason")
FORMATS = ("text", "json")
HANDLER_NAME = "digest"  # setup_logging replaces its own handler rather than adding a second

# Environment variables whose values are secrets wherever they show up.
SECRET_ENV = ("DIGEST_SECRET_KEY", "SENDGRID_API_KEY", "DIGEST_SMTP_PASSWORD")
_SECRET_PATTERNS = (
    # SendGrid API keys: "SG." then two base64url parts.
    (re.compile(r"\bSG\.[\w-]{6,}\.[\w-]{6,}"), "SG.[redacted]"),
    # The tokens of unsubscribe, preference and confirmation links, wherever they sit in a URL.
    (re.compile(r"/(u|p|confirm)/[^/?#\s\"'<>]+"), r"/\1/[token]"),
    (re.compile(r"([?&](?:token|key|signature)=)[^&#\s\"'<>]+", re.IGNORECASE), r"\1[redacted]"),
    # A bare signed token: digest.tokens' "<hex id>.<list>.<43-char HMAC>" and itsdangerous'
    # "<payload>.<timestamp>.<signature>" (confirmation links), both base64url.
    # The signature is 27 (HMAC-SHA1) or 43 (HMAC-SHA256) base64url characters.
    (
        re.compile(
            r"[A-Za-z0-9_-]+\.[^\s.]+\.[A-Za-z0-9_-]{27}(?:[A-Za-z0-9_-]{16})?(?![A-Za-z0-9_-])"
        ),
        "[token]",
    ),
    (re.compile(r"(Bearer\s+)\S+", re.IGNORECASE), r"\1[redacted]"),
)
_known: set[str] = set()


def never_log(value: str | None) -> None:
    """Redact this exact value from every later log line (a key loaded from a file, say)."""
    if value and len(value) >= 8:  # a short value would redact ordinary words
        _known.add(value)


def redact(text: str) -> str:
    """``text`` without any secret or token it held, control characters made visible."""
    for value in sorted(_known | _env_secrets(), key=len, reverse=True):
        text = text.replace(value, "[redacted]")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return visible(text)


def _env_secrets() -> set[str]:
    return {v for name in SECRET_ENV if len(v := os.environ.get(name, "")) >= 8}


class RedactSecrets(logging.Filter):
    """Rewrites each record before any formatter sees it: the message (with its arguments
    merged in, whatever their type), the structured fields, and the traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep both
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        for key in FIELDS:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS[1:]:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_text:
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(fmt: str = "text", stream=None, *, level: int = logging.INFO) -> logging.Handler:
    """One handler on the 'digest' logger (APScheduler's own warnings go through it too).

    Called again, it replaces the handler it installed before: the CLI installs one for
    warnings at start, the scheduler command then asks for INFO lines in its format.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    # On the handler, not the logger: a logger's filters do not see its children's records.
    handler.addFilter(RedactSecrets())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name, lvl in (("digest", level), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
            logger.removeHandler(old)
        logger.setLevel(lvl)
        logger.addHandler(handler)
    return handler
