"""What a value from data must be before it goes into a mail header: one line, no encoded word.

Why not trust the email package: CPython's header registry decodes any RFC 2047 encoded word
(``=?charset?q?...?=`` or ``?b?``) it finds in a value it is given, and before 3.11.10 / 3.12.5
(gh-121650) it writes the decoded text out raw when folding. A subscriber named
``=?utf-8?q?x=0D=0ABcc:_v@example.net?=`` then gets a real ``Bcc:`` header, and a payload with
``=0D=0A=0D=0A`` starts the body. The project allows any 3.11, so safety is built here, the same
on every Python and on every path (``build_message``, the MIME template, SendGrid's JSON, which
SendGrid turns into MIME itself):

- free text (names, subjects, titles): encoded words are decoded by us, their text made one line
  like everything else, and any ``=?`` left that a ``?=`` follows (a word inside a word) is
  broken up as ``= ?``, so no parser downstream can decode anything out of it;
- addresses: an address with an encoded word, a control character or white space is refused
  (``address_problem``), where it enters and again where it is written.

No imports from the rest of ``digest``: config, collect, store and delivery all use it.
"""

from __future__ import annotations

import binascii
import re
import unicodedata

SUBJECT_MAX = 200  # characters; RFC 5322 allows 998 per line, clients show 40 to 80
NAME_MAX = 200  # display names (From, To): the subscribers.name column's length

# What an RFC 2047 encoded word looks like (charset may carry an RFC 2231 "*language").
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
ENCODED_WORD_IN_ADDRESS = (
    "contains an encoded word (=?...?=), which mail software would decode into other text"
)


def one_line(text: str) -> str:
    """Collapse every kind of line break and control character to single spaces."""
    # isprintable() is False exactly for categories C and Z other than the ASCII space: the
    # common case (a clean name, per recipient) returns at once.
    if text.isprintable() and "  " not in text and text == text.strip():
        return text
    cleaned = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)
    return " ".join(cleaned.split())


def header_text(text: str, limit: int | None = None) -> str:
    """``text`` made safe for any header: one line, nothing a mail parser would decode, and at
    most ``limit`` characters (cut at a word, with an ellipsis). Idempotent."""
    text = str(text)
    if "=?" in text:
        text = ENCODED_WORD.sub(_decoded, text)
    text = one_line(text)
    start = text.find("=?")
    if start >= 0 and "?=" in text[start + 2 :]:
        # Still a possible encoded word (malformed, spaced, or one inside a decoded word): no
        # parser may ever decode it. A "=?" with no "?=" after it cannot start one.
        text = text.replace("=?", "= ?")
    if limit is not None:
        text = shorten(text, limit)
    return text


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters: cut at the last space that leaves room for an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut.strip():
        cut = cut.rstrip().rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot go into a header or an SMTP envelope, as the end of a sentence
    ("The address ..."), or None when it can."""
    if "=?" in address:
        return ENCODED_WORD_IN_ADDRESS
    # isprintable() is False exactly for categories C and Z but the ASCII space: a clean
    # address (every recipient of every batch) is answered without a look at each character.
    if address.isprintable() and " " not in address:
        return None
    if any(unicodedata.category(c)[0] in "CZ" for c in address):
        return "contains a space, a line break or another control character"
    return None


def needs_smtputf8(address: str) -> bool:
    """True when ``address`` has a non-ASCII local part: no encoded form exists for it (RFC 2047
    words are not allowed in an address, and IDNA is for domains only), so it travels only in
    an SMTPUTF8 transaction and a UTF-8 header (RFC 6531, RFC 6532)."""
    return not address.rpartition("@")[0].isascii()


def envelope_address(address: str) -> str:
    """``address`` as RCPT TO carries it: the domain as IDNA (A-labels, as in the To header),
    the local part as it is, so non-ASCII only when the local part is (SMTPUTF8). ValueError
    (the reason, for the ledger) for an address no envelope may carry."""
    if not plain_address(address):
        why = address_problem(address)
        raise ValueError(
            f"the address {why}" if why else "the address holds a space or an angle bracket"
        )
    local, _, domain = address.rpartition("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"the domain {domain!r} has no IDNA (ASCII) form") from None
    return f"{local}@{domain}"


def plain_address(address: str) -> bool:
    """What an SMTP envelope is written raw with (RCPT TO:<...>): no CR/LF/NUL, space or
    bracket, and no encoded word, since the same address goes into the To header."""
    return not any(c in address for c in " <>") and address_problem(address) is None


def message_id_text(value: str) -> str:
    """A Message-ID built from data (edition ids carry the list name): only the characters a
    msg-id may hold, and no ``=?``."""
    kept = "".join(c for c in value if c.isascii() and c.isprintable() and c not in ' ()[]\\",;:')
    return re.sub(r"=+\?", "?", kept)


def _decoded(match: re.Match) -> str:
    charset, encoding, payload = match.groups()
    charset = charset.split("*", 1)[0]
    try:
        data = payload.encode("ascii")
        if encoding in "qQ":
            raw = binascii.a2b_qp(data, header=True)  # header=True: "_" is a space
        else:
            raw = binascii.a2b_base64(data + b"=" * (-len(data) % 4))
        decoded = raw.decode(charset, "replace")
    except (UnicodeError, LookupError, binascii.Error, ValueError):
        return match.group(0)  # not decodable: the "=?" breaking in header_text covers it
    # Decoded text is data like any other: its CR/LF/NUL become spaces with the rest.
    return one_line(decoded)
