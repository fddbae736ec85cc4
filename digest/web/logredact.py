"""Subscription tokens out of every log line of the web server.

The links of unsubscribe, preference and confirmation pages carry a token that is a
subscriber's key to their own subscription; a log line is read by more people than a mailbox.
``RedactTokens`` rewrites a record's message, arguments and formatted traceback: every
``/u/…``, ``/p/…``, ``/confirm/…``, ``/o/…`` and ``/c/…`` path becomes ``/u/[token]``, and the current request's
token (``RememberTokens`` notes it) is replaced wherever else it shows up, say in an
exception's message. ``install_log_redaction`` puts the filter on the server's loggers and the
app's own (every module of digest.web logs to "digest.web").
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Mapping

# o/ and c/: the open pixel's and click redirect's reader token ties a line to a ledger row.
PATTERN = re.compile(r"/(u|p|confirm|o|c)/[^/?#\s\"'<>]+")
API_TOKEN = re.compile(r"dgt_[A-Za-z0-9_-]{8,}")  # a JSON API bearer token (digest api-token)
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "digest", "digest.web")
MIN_TOKEN = 8  # shorter path segments are not tokens; replacing them would garble the line

# The tokens in the path of the request being handled. Each request runs in a task (and its
# threads) with a copy of the context, so one request never sees another's.
_tokens: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "digest_tokens", default=()
)


def redact(text: str) -> str:
    text = PATTERN.sub(r"/\1/[token]", text)
    text = API_TOKEN.sub("dgt_[token]", text)
    for token in _tokens.get():
        text = text.replace(token, "[token]")
    return text


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        # The arguments stay a tuple: uvicorn's access formatter reads them by position.
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            # Formatted here, so the handler's formatter uses this text instead of its own.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redacted(value):
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not stop the log line
        return value
    cleaned = redact(text)
    return cleaned if cleaned != text else value


def install_log_redaction() -> None:
    """Idempotent: the filter goes on each logger once, however many apps are made."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


class RememberTokens:
    """Notes the tokens in a request's path for ``redact``, before anything can log."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            found = [m.group(0).split("/", 2)[2] for m in PATTERN.finditer(scope["path"])]
            _tokens.set(tuple(t for t in found if len(t) >= MIN_TOKEN))
        await self.app(scope, receive, send)
