"""SendGrid's Event Webhook, provider side: signature check and events normalized by table.

Verification: ECDSA P-256 with SHA-256 over ``timestamp + raw body`` (the bytes as received,
before any JSON parsing), with the account's public key (base64 DER). The HTTP side lives in
digest/web/hooks.py; this module knows SendGrid, not HTTP.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from digest.normalize import email_key

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

# SendGrid event -> what it does here: ("suppress", reason) or ("count", None). Anything else
# (processed, deferred, group_resubscribe) is acknowledged and ignored.
EVENTS = {
    "bounce": ("suppress", "bounce"),
    "dropped": ("suppress", "dropped"),
    "spamreport": ("suppress", "spamreport"),
    "unsubscribe": ("suppress", "unsubscribe"),
    "group_unsubscribe": ("suppress", "unsubscribe"),
    "delivered": ("count", None),
    "open": ("count", None),
    "click": ("count", None),
}


def verify(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes) -> bool:
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(
            base64.b64decode(signature_b64), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
        return True
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return False


LEDGER_ID_MAX = 2**31 - 1  # deliveries.id is a 32-bit integer on PostgreSQL
EDITION_ID_MAX = 150  # editions.id
ADDRESS_MAX = 320  # suppressions.email_key
URL_MAX = 2048  # events.url


class BadEvent(ValueError):
    """A verified post whose event carries a value we cannot store: the post gets 400."""


def normalize(event: dict) -> dict | None:
    """One event as stored, or None when there is nothing to do with it.

    Raises BadEvent for a value that no event of ours can carry (a ledger id out of range, an
    edition id or address too long or with control characters): answered 400, never stored
    cut or mangled, never a database error.
    """
    kind = event.get("event")
    action = EVENTS.get(kind) if isinstance(kind, str) else None
    sg_id = event.get("sg_event_id")
    if action is None or not isinstance(sg_id, str) or not sg_id:
        return None
    # custom_args come back as top-level keys of the event.
    edition_id = event.get("edition_id")
    if edition_id is not None and not _text(edition_id, EDITION_ID_MAX):
        raise BadEvent("edition_id is not an edition id")
    try:
        occurred = datetime.fromtimestamp(int(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        occurred = None
    suppress = None
    email = event.get("email")
    # A "blocked" bounce is the receiving server refusing for now (reputation, content), not a
    # dead address: suppressing it would drop a reader for good over a passing problem.
    if action[0] == "suppress" and email is not None and event.get("type") != "blocked":
        if not _text(email, ADDRESS_MAX):
            raise BadEvent("email is not an address")
        suppress = (email_key(email), action[1])
    url = event.get("url") if kind == "click" else None
    return {
        "sg_event_id": sg_id,
        "kind": kind,
        "edition_id": edition_id,
        "delivery_id": ledger_id(event.get("delivery_id")),
        "occurred_at": occurred,
        "suppress": suppress,
        # A link we cannot store is dropped, not refused: the click still counts.
        "url": url if _text(url, URL_MAX) else None,
        # SendGrid flags the opens it knows a machine made (Apple Mail Privacy Protection's
        # pre-fetch): kept, but not counted as a reader's open.
        "machine": event.get("sg_machine_open") is True if kind == "open" else None,
    }


def ledger_id(value) -> int | None:
    """The ledger row of a custom_args ``delivery_id``: SendGrid hands custom args back as
    strings ("7"); a JSON number is accepted too. Anything else raises BadEvent."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value) if len(value) <= 12 else LEDGER_ID_MAX + 1  # int() of 10**5 digits
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise BadEvent(f"delivery_id must be a ledger row id, not {_shown(value)}")
    if not 1 <= number <= LEDGER_ID_MAX:
        raise BadEvent(f"delivery_id {_shown(value)} is out of range (1 to {LEDGER_ID_MAX})")
    return number


def _text(value, max_len: int) -> bool:
    # isprintable() is False for NUL, control characters and lone surrogates, which
    # PostgreSQL refuses and which no id or address of ours contains.
    return isinstance(value, str) and 0 < len(value) <= max_len and value.isprintable()


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
