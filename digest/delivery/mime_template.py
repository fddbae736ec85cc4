"""The MIME message of one send, built once by ``build_message`` and spliced per recipient.

``build_message`` goes through the email package (header registry, folding, quoted-printable in
pure Python): about 3.5 ms for the sample digest, more than the SMTP transaction itself, which
would cap a backend near 270 messages/s. Almost all of that message is the same for everyone.
So, once per job, ``build_message`` makes the message with marker bodies; per recipient only
what differs is rebuilt, the way ``build_message`` builds it:

- the To, Message-ID and List-Unsubscribe fields, through the same policy and header registry
  (``POLICY.header_store_parse`` then ``POLICY.fold_binary``, exactly what ``EmailMessage``
  assignment and ``as_bytes`` call), so encoding, quoting and CR/LF safety are the registry's;
- the two bodies, with the transfer encoding the email package would pick
  (``email.contentmanager``: 7bit/8bit when every line fits, else quoted-printable or base64,
  whichever is shorter on the first lines), encoded by ``binascii`` in C.

About 0.4 ms per recipient instead of 3.5. ``render`` answers None when a recipient differs
from the template in anything else (another envelope field, a raw body holding the boundary);
the caller then uses ``build_message``. Tests compare both paths header by header.
"""

from __future__ import annotations

import binascii
import logging
import re
import secrets
from dataclasses import replace
from email import quoprimime

from digest.delivery.message import (
    POLICY,
    POLICY_UTF8,
    Envelope,
    build_message,
    list_unsubscribe,
    mailbox,
    message_id,
)
from digest.headers import needs_smtputf8

log = logging.getLogger(__name__)

# The envelope fields that differ between recipients of one send; any other difference means
# the template does not fit that recipient.
PERSONAL = ("to_email", "to_name", "unsubscribe_url", "message_id")
_FIELDS = {b"to": "to", b"message-id": "message_id", b"list-unsubscribe": "list_unsubscribe"}
_CTE = b"Content-Transfer-Encoding: 7bit\r\n"


class MessageTemplate:
    """Made from any recipient's envelope of the send: its personal fields are set aside."""

    def __init__(self, env: Envelope):
        self.env = env = replace(
            env,
            to_email="template@example.invalid",
            to_name="",
            unsubscribe_url="https://example.invalid/u",
            message_id="<template@example.invalid>",
        )
        marker = f"dgmime{secrets.token_hex(8)}"
        raw = build_message(env, html=marker + "h", text=marker + "t").as_bytes()
        head, sep, rest = raw.partition(b"\r\n\r\n")
        found = re.search(rb'\r\nContent-Type: multipart/alternative;\s+boundary="([^"]+)"', head)
        if not sep or not found:
            raise ValueError("build_message no longer makes one multipart/alternative message")
        self._boundary = b"--" + found.group(1)
        pieces: list[bytes | str] = []
        # Header fields, each with its folded continuation lines and final CRLF.
        for field in re.split(rb"(?<=\r\n)(?![ \t])", head + b"\r\n"):
            name = field.split(b":", 1)[0].strip().lower()
            pieces.append(_FIELDS.get(name, field))
        if sorted(p for p in pieces if isinstance(p, str)) != sorted(_FIELDS.values()):
            raise ValueError("the template's To, Message-ID or List-Unsubscribe is not unique")
        pieces.append(b"\r\n")
        # Each body: its "7bit" becomes a slot, and so does the marker line.
        for part in ("text", "html"):
            mark = (marker + part[0]).encode() + b"\r\n"
            at = rest.find(mark)
            cte = rest.rfind(_CTE, 0, at)
            if at < 0 or rest.count(mark) != 1 or cte < 0 or b"\r\n--" in rest[cte:at]:
                raise ValueError(f"the template's {part} part is not where it was expected")
            pieces += [
                rest[:cte],
                b"Content-Transfer-Encoding: ",
                part + "_cte",
                b"\r\n",
                rest[cte + len(_CTE) : at],
                part,
            ]
            rest = rest[at + len(mark) :]
        pieces.append(rest)
        self._pieces = tuple(pieces)
        self._lines: dict[bytes, bytes] = {}  # quoted-printable lines already encoded

    def render(self, env: Envelope, *, html: str, text: str) -> bytes | None:
        """The recipient's message as ``build_message`` would make it, or None if it can't."""
        same = {key: getattr(self.env, key) for key in PERSONAL}
        if replace(env, **same) != self.env:
            return None
        # A non-ASCII local part can only be written as raw UTF-8 (RFC 6532); the other fields
        # keep their RFC 2047 words, which a UTF-8 message may hold too.
        to_policy = POLICY_UTF8 if needs_smtputf8(env.to_email) else POLICY
        slots = {
            "to": _field("To", mailbox(env.to_name, env.to_email), to_policy),
            "message_id": _field("Message-ID", message_id(env)),
            "list_unsubscribe": _field(
                "List-Unsubscribe", list_unsubscribe(env.unsubscribe_url, env.unsubscribe_mailto)
            ),
        }
        for part, body in (("text", text), ("html", html)):
            cte, data = encode_body(body, self._lines)
            if self._boundary in data:  # only a raw 7bit/8bit body could hold a boundary line
                return None
            slots[part + "_cte"], slots[part] = cte, data
        return b"".join(p if isinstance(p, bytes) else slots[p] for p in self._pieces)


class MessageMaker:
    """The bytes of each recipient's message, for any backend that hands over whole messages
    (SMTP, outbox): the template is built once per send job; ``build_message`` is the fallback
    when the template does not fit (and the reference the template is tested against)."""

    def __init__(self):
        self._job = None
        self._template: MessageTemplate | None = None

    def message_bytes(self, job, recipient) -> bytes:
        """ValueError when no message can carry this recipient (an address with a control
        character or an encoded word). A non-ASCII local part gets a UTF-8 To field (RFC 6532):
        only a backend that can carry it (SMTPUTF8, the outbox) is handed such a message."""
        html, text = job.personalizer.fill(recipient.values)
        env = recipient.envelope(job)
        if self._job is not job:
            self._job = job
            try:
                self._template = MessageTemplate(env)
            except ValueError as exc:  # build_message changed shape: the slow path still works
                log.warning("building each message in full: %s", exc)
                self._template = None
        raw = self._template.render(env, html=html, text=text) if self._template else None
        return raw if raw is not None else build_message(env, html=html, text=text).as_bytes()


def _field(name: str, value, policy=POLICY) -> bytes:
    # What ``msg[name] = value`` then ``msg.as_bytes()`` do for one field (ValueError on CR/LF).
    return policy.fold_binary(*policy.header_store_parse(name, value))


def encode_body(text: str, cache: dict[bytes, bytes] | None = None) -> tuple[bytes, bytes]:
    """(transfer encoding, encoded body with CRLF line ends), chosen as email.contentmanager does.

    Quoted-printable is line by line (a hard line break resets everything), so each encoded
    line may come from ``cache``: across the recipients of one send, only the few lines holding
    a greeting or a link are new, and the 27 KB HTML part costs a few dictionary lookups.
    """
    lines = text.encode("utf-8").splitlines()
    data = b"\r\n".join(lines) + b"\r\n"
    limit = POLICY.max_line_length  # None would mean no limit, as in email.contentmanager
    if limit is None or max(map(len, lines), default=0) <= limit:
        if data.isascii():
            return b"7bit", data
        if POLICY.cte_type == "8bit":
            return b"8bit", data
    if cache is None:
        cache = {}
    elif len(cache) > 20_000:  # bounded: the lines holding personal values are new every time
        cache.clear()

    def qp(line: bytes) -> bytes:
        encoded = cache.get(line)
        if encoded is None:  # CRLF given makes b2a_qp break long lines with "=\r\n" (76 max)
            encoded = cache[line] = binascii.b2a_qp(line + b"\r\n")
        return encoded

    head = [qp(line) for line in lines[:10]]
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    if _prefers_base64(sum(map(len, head)), sniff, limit):
        chunks = (binascii.b2a_base64(data[i : i + 57]) for i in range(0, len(data), 57))
        return b"base64", b"".join(chunks).replace(b"\n", b"\r\n")
    return b"quoted-printable", b"".join(head + [qp(line) for line in lines[10:]])


def _prefers_base64(qp_estimate: int, sniff: bytes, limit: int | None) -> bool:
    """email.contentmanager's choice: base64 when the first ten lines are longer in
    quoted-printable. binascii's quoted-printable (76-character lines, cached per line) is
    within a few bytes of the email package's (``quoprimime``, ``max_line_length``), so it
    decides alone unless the two lengths are close; then the email package's own encoder
    decides, so that both paths always pick the same encoding."""
    b64 = len(binascii.b2a_base64(sniff))
    if abs(qp_estimate - b64) > b64 // 8:
        return qp_estimate > b64
    exact = quoprimime.body_encode(sniff.decode("latin-1"), limit or 76)
    return len(exact) > b64
