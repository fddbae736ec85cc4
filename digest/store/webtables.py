"""The tables of the web app (sessions, signups), of send control and the JSON API (send
actions, the audit log, API tokens): on the one metadata of digest/store/schema.py, which
re-exports them beside the others."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Table, Text

from digest.store.columns import UtcDateTime, metadata, utcnow

# -- the web app (digest/web/session.py, digest/web/subscribers.py) --------------------------------

web_sessions = Table(
    "web_sessions",
    metadata,
    # An editor's login. The cookie carries a random id; only its SHA-256 is stored, so a copy
    # of the database does not hold live sessions. Logout sets revoked_at: the cookie, still
    # validly signed, is refused from then on.
    Column("id_hash", String(64), primary_key=True),
    Column("editor", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    Column("last_seen_at", UtcDateTime, nullable=False, default=utcnow),
    Column("expires_at", UtcDateTime, nullable=False, index=True),  # purged after it
    Column("revoked_at", UtcDateTime, nullable=True),
)

signup_confirmations = Table(
    "signup_confirmations",
    metadata,
    # When the signup form last mailed a confirmation to an address, so it mails one at most
    # per hour whatever the client. Keyed by an HMAC of the address (the app's secret key), not
    # the address: nobody is recorded for having been typed into a form.
    Column("address_key", String(64), primary_key=True),
    Column("sent_at", UtcDateTime, nullable=False, index=True),
)


# -- send control and the JSON API (digest/delivery/control.py, digest/store/api_tokens.py) -------

send_actions = Table(
    "send_actions",
    metadata,
    # The audit of what people (and schedules) did to a send: start, pause, resume, cancel,
    # retry-failed, resend-unknown, send-unapproved, approval-requested. ``actor`` is an
    # editor's name, ``token:NAME`` for the API, ``cli:USER`` or ``schedule:NAME``.
    Column("id", Integer, primary_key=True),
    Column("edition_id", String(150), nullable=False),  # kept after the edition is gone
    Column("action", String(30), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False, default=utcnow),
    Column("detail", Text, nullable=True),
    Index("ix_send_actions_edition_id", "edition_id", "id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    # Everything else people and tokens did in the web app and the API (approvals, edits, test
    # sends, the audience, accounts, tokens, and the refusals of a role or token that may not):
    # with send_actions, what the audit page shows (digest/store/audit.py).
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False, default=utcnow, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=True),  # an edition, a subscriber's id, a token...
    Column("detail", Text, nullable=True),
)

API_SCOPES = ("read", "write")

api_tokens = Table(
    "api_tokens",
    metadata,
    # Bearer tokens of the JSON API. The token is shown once when made; only its SHA-256 is
    # kept (32 random bytes need no slow hash), so a copy of the database grants nothing.
    Column("name", String(100), primary_key=True),
    Column("scope", String(10), nullable=False),  # read: GETs; write: GETs and POSTs
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("scope IN ('read', 'write')", name="scope"),
)
