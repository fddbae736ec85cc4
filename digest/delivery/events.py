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

from digest.store.csvio import email_key

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
        key.verify(base64.b64decode(signature_b64), timestamp.encode() + body,
                   ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return False


def normalize(event: dict) -> dict | None:
    """One event as stored, or None when there is nothing to do with it."""
    kind = event.get("event")
    action = EVENTS.get(kind) if isinstance(kind, str) else None
    sg_id = event.get("sg_event_id")
    if action is None or not isinstance(sg_id, str) or not sg_id:
        return None
    # custom_args come back as top-level keys of the event.
    edition_id = event.get("edition_id")
    try:
        delivery_id = int(event["delivery_id"]) if event.get("delivery_id") is not None else None
    except (TypeError, ValueError):
        delivery_id = None
    try:
        occurred = datetime.fromtimestamp(int(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        occurred = None
    suppress = None
    email = event.get("email")
    # A "blocked" bounce is the receiving server refusing for now (reputation, content), not a
    # dead address: suppressing it would drop a reader for good over a passing problem.
    if action[0] == "suppress" and isinstance(email, str) and event.get("type") != "blocked":
        suppress = (email_key(email), action[1])
    return {"sg_event_id": sg_id, "kind": kind,
            "edition_id": edition_id if isinstance(edition_id, str) else None,
            "delivery_id": delivery_id, "occurred_at": occurred, "suppress": suppress}
