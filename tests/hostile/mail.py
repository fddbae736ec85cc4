"""How a delivered message is checked: re-parsed with ``email.policy.default`` (the registry
that decodes encoded words), header by header, and its bodies compared with what was sent."""

from __future__ import annotations

from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default

# What build_message writes, once each; nothing else may appear.
BUILD_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)
BREAKS = ("\r", "\n", "\x00")


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


def check_message(
    raw: bytes, *, headers: tuple[str, ...], html: str | None, text: str | None
) -> EmailMessage:
    """The parsed message, after asserting that it holds exactly ``headers``, no Bcc/Cc, no
    decoded header value with CR/LF/NUL, and the two bodies as given (None: not known to the
    caller, then only that there are the two of them)."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    assert sep, "no end of headers"
    lines = head.split(b"\r\n")
    for line in lines:  # every physical line ends in CRLF: no bare CR, LF or NUL between
        assert not any(c in line for c in (b"\r", b"\n", b"\x00")), line[:120]
        assert len(line) <= 998, "a header line over RFC 5322's limit"
    names = [line.split(b":", 1)[0].decode() for line in lines if line[:1] not in (b" ", b"\t")]
    assert sorted(n.lower() for n in names) == sorted(h.lower() for h in headers), names

    msg = message_from_bytes(raw, policy=default)
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert sorted(k.lower() for k in msg.keys()) == sorted(h.lower() for h in headers)
    for name, value in msg.items():
        decoded = str(value)
        assert not any(c in decoded for c in BREAKS), (name, decoded[:120])
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    if text is not None:
        assert _norm(plain.get_content()) == _norm(text)
    if html is not None:
        assert _norm(rich.get_content()) == _norm(html)
    return msg


def sendgrid_mime(body: dict, personalization: dict) -> bytes:
    """A message the way a provider would make one from a Mail Send request: every JSON header
    value given to the standard library's header registry as it is. SendGrid's own MIME builder
    is not ours to run; this stands for any builder that decodes encoded words."""
    msg = EmailMessage(policy=default.clone(linesep="\r\n"))
    sender, [to] = body["from"], personalization["to"]
    msg["From"] = Address(sender.get("name", ""), addr_spec=sender["email"])
    msg["To"] = Address(to.get("name", ""), addr_spec=to["email"])
    msg["Subject"] = body["subject"]
    if "reply_to" in body:
        msg["Reply-To"] = Address("", addr_spec=body["reply_to"]["email"])
    for name, value in {**body.get("headers", {}), **personalization.get("headers", {})}.items():
        msg[name] = value
    html, text = filled_bodies(body, personalization)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg.as_bytes()


def filled_bodies(body: dict, personalization: dict) -> tuple[str, str]:
    text, html = (c["value"] for c in body["content"])
    for token, value in personalization.get("substitutions", {}).items():
        text, html = text.replace(token, value), html.replace(token, value)
    return html, text


def json_strings(obj):
    """Every string in a JSON value, keys included."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from json_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from json_strings(v)
