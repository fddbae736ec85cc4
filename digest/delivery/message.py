"""Build one RFC 5322 message from a personalized digest. Used by the outbox and SMTP backends.

Header safety: every value that came from data (names, subject, list title, ids) goes through
``digest.headers`` first (one line, encoded words decoded and broken up, bounded), then through
Python's header registry, which encodes non-ASCII per RFC 2047 and quotes display names. So no
CR, LF or NUL from data reaches a header, whatever the Python patch version (gh-121650), and
an address that carries an encoded word or a control character is refused (ValueError).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime

from digest.headers import (
    NAME_MAX,
    SUBJECT_MAX,
    address_problem,
    header_text,
    message_id_text,
    needs_smtputf8,
)


@dataclass(frozen=True)
class Envelope:
    """Everything a message needs besides its two bodies."""

    from_email: str
    from_name: str
    to_email: str
    to_name: str
    subject: str
    list_id: str  # e.g. '"La matinale" <matinale.example.ma>'
    unsubscribe_url: str
    unsubscribe_mailto: str | None = None
    reply_to: str | None = None
    message_id: str | None = None
    date: datetime | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()


# Headers whose value must reach the receiver byte for byte. Python's folder turns a long
# unbreakable word (a signed URL) into RFC 2047 encoded-words, which mail providers do not decode
# in List-Unsubscribe; we fold these ourselves, only between list elements.
_VERBATIM = {"list-unsubscribe", "list-unsubscribe-post"}


class _Policy(EmailPolicy):
    def fold(self, name, value):
        if name.lower() in _VERBATIM:
            return _fold_list(name, str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if name.lower() in _VERBATIM:
            return _fold_list(name, str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


POLICY = _Policy(linesep="\r\n")
# For a recipient whose local part is not ASCII (RFC 6532): headers are written as raw UTF-8,
# never as encoded words, which an address may not hold. Only that recipient's message uses it,
# and only backends that can carry it (an SMTPUTF8 relay, the outbox) are handed it.
# Not folded (998 is RFC 5322's line limit; every value here is capped well under it): the
# email package's UTF-8 folder puts a value holding a no-break space (French typography) whole
# on a continuation line, which parsers then read with a leading space.
POLICY_UTF8 = POLICY.clone(utf8=True, max_line_length=998)


def _fold_list(name: str, value: str, linesep: str) -> str:
    if not value.isascii() or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be one line of ASCII")
    return f"{name}: " + f",{linesep} ".join(p.strip() for p in value.split(",")) + linesep


def build_message(env: Envelope, *, html: str, text: str) -> EmailMessage:
    """multipart/alternative: text/plain first, then text/html, both UTF-8. A recipient with a
    non-ASCII local part gets a message with UTF-8 headers (``POLICY_UTF8``)."""
    msg = EmailMessage(policy=POLICY_UTF8 if needs_smtputf8(env.to_email) else POLICY)
    msg["From"] = mailbox(env.from_name, env.from_email)
    msg["To"] = mailbox(env.to_name, env.to_email)
    if env.reply_to:
        msg["Reply-To"] = mailbox("", env.reply_to)
    msg["Subject"] = header_text(env.subject, SUBJECT_MAX)
    msg["Date"] = format_datetime(env.date) if env.date else _now()
    msg["Message-ID"] = message_id(env)
    msg["List-Id"] = header_text(env.list_id)
    msg["List-Unsubscribe"] = list_unsubscribe(env.unsubscribe_url, env.unsubscribe_mailto)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in env.extra_headers:
        if not _FIELD_NAME.match(name):
            raise ValueError(f"{name!r} is not a header field name")
        msg[name] = header_text(value)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


# RFC 5322 field name: printable ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")
# Printable ASCII without <, > and ",": what a URL may hold inside the header's <...>.
_HEADER_SAFE = re.compile(r"[!-+\--;=?-~]*\Z")


def list_unsubscribe(url: str, mailto: str | None) -> str:
    """RFC 2369 in order of preference: the HTTPS link (RFC 8058 one-click) then mailto.

    Runs per recipient; the signed links we build are header-safe already, so the per-character
    filter only runs on the rare URL that is not.
    """
    if not _HEADER_SAFE.match(url):
        url = _header_url(url)
    if "=?" in url:  # would be decoded as an encoded word; %3F is the same "?" to the server
        url = url.replace("=?", "=%3F")
    if mailto:
        return f"<{url}>, <mailto:{mailto}?subject=unsubscribe%20{url.rsplit('/', 1)[-1]}>"
    return f"<{url}>"


def list_unsubscribe_around(prefix: str, mailto: str | None) -> tuple[str, ...]:
    """``list_unsubscribe(prefix + token, mailto)`` without the token, once per request: the
    texts to put around each recipient's token (``parts[0] + token + parts[1]``, then
    ``+ token + parts[2]`` with a mailto), for a ``prefix`` ending in "/" and a token of
    URL-unreserved characters, which no filter above changes and which cannot make "=?"."""
    url = prefix if _HEADER_SAFE.match(prefix) else _header_url(prefix)
    url = url.replace("=?", "=%3F")
    if mailto:
        return f"<{url}", f">, <mailto:{mailto}?subject=unsubscribe%20", ">"
    return f"<{url}", ">"


def list_id(title: str, list_name: str, site_url: str) -> str:
    from urllib.parse import urlsplit

    domain = (urlsplit(site_url).hostname or "localhost").removeprefix("www.")
    label = "".join(c for c in list_name.lower() if c.isascii() and (c.isalnum() or c in "-_"))
    label = label or "list"
    # Quotes and backslashes out first: removing one afterwards could join "=\?" into "=?".
    title = header_text(title.replace("\\", "").replace('"', "'"))
    return f'"{title}" <{label}.{domain}>'


def message_id(env: Envelope) -> str:
    """The envelope's Message-ID, reduced to what a msg-id may hold, or a new one."""
    return message_id_text(env.message_id) if env.message_id else make_message_id(env.from_email)


def make_message_id(from_email: str) -> str:
    domain = from_email.rsplit("@", 1)[-1]
    return f"<{secrets.token_hex(12)}@{domain}>"


def mailbox(name: str, email: str) -> Address:
    """A From/To/Reply-To value; ValueError for an address no header may carry.

    A non-ASCII local part is kept as it is: only a UTF-8 policy (``POLICY_UTF8``) can write it
    (the default one would make an encoded word of it, which no receiver decodes there).
    """
    problem = address_problem(email)
    if problem:
        raise ValueError(f"the address {email!r} {problem}")
    local, _, domain = email.rpartition("@")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return Address(display_name=header_text(name, NAME_MAX), username=local, domain=domain)


def _header_url(url: str) -> str:
    # URLs we build are ASCII already; anything else (spaces, brackets) would break the header.
    return "".join(c for c in url if 0x21 <= ord(c) <= 0x7E and c not in "<>,")


def _now() -> str:

    return format_datetime(datetime.now(UTC))
