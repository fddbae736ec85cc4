"""The tables, in SQLAlchemy 2 Core. Portable: the same metadata runs on SQLite and PostgreSQL.

Only this package touches the database (see DESIGN.md); everything here is plain Core so the
queries elsewhere in ``digest.store`` can be read as the SQL they emit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DDL,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.types import TypeDecorator

# Named constraints so a future migration tool (Alembic) can refer to them on any backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MEMBERSHIP_STATUSES = ("active", "unsubscribed")
NAME_MAX = 200  # csvio rejects longer names rather than letting the column truncate/refuse them
EMAIL_MAX = 320  # 64 + 1 + 255; email_validator enforces the real limit (254) before we get here
LIST_NAME_MAX = 100
TIMEZONE_MAX = 64  # IANA names are at most ~32 characters; csvio checks them against zoneinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def max_length(column: Column) -> int:
    """The declared length of a ``String(n)`` column: what PostgreSQL refuses to exceed."""
    kind = column.type
    if not isinstance(kind, String) or kind.length is None:
        raise TypeError(f"column {column.name} has no declared length")
    return kind.length


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps the offset (timestamptz); SQLite stores text without one and would hand
    back naive datetimes. Normalising to UTC on the way in and tagging UTC on the way out gives
    callers the same aware value everywhere, and refuses naive input instead of guessing.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not UTC:  # fast path: utcnow() values need no conversion
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value!r}: store timezone-aware values only")
            value = value.astimezone(UTC)
        # SQLite compares the stored text; strip tzinfo so every row has the same format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


lists = Table(
    "lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(LIST_NAME_MAX), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    # The address as given (domain lower-cased/IDNA-normalised by email_validator; the local
    # part keeps its case because RFC 5321 lets servers treat it case-sensitively).
    Column("email", String(EMAIL_MAX), nullable=False),
    # email.lower(): identity and uniqueness. Mailboxes are case-insensitive in practice, and a
    # functional unique index on lower(email) is not portable, so the key is its own column.
    # (This also makes ``email`` unique, without paying for a second index on every insert.)
    Column("email_key", String(EMAIL_MAX), nullable=False, unique=True),
    Column("name", String(NAME_MAX), nullable=False, default=""),
    Column("locale", String(35), nullable=True),  # None: use the list's / site's locale
    # IANA name from an import (Mailchimp's TIMEZONE, a CSV's timezone column), validated
    # against zoneinfo; None: unknown, the site's time zone applies.
    Column("timezone", String(TIMEZONE_MAX), nullable=True),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
)

memberships = Table(
    "memberships",
    metadata,
    Column("list_id", Integer, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
        # The PK index leads with list_id; this one answers "which lists is X on" (unsubscribe
        # from all lists) without a scan.
        index=True,
    ),
    # An unsubscribed membership is kept, never deleted: it is the record of the person's choice
    # and what stops a later re-import from subscribing them again.
    Column("status", String(20), nullable=False, default="active"),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    Column("unsubscribed_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    CheckConstraint("status IN ('active', 'unsubscribed')", name="status"),
    # SQLite only (other backends ignore it): store rows in primary-key order, so both hot
    # queries -- keyset pagination of a list (list_id = ? AND subscriber_id > ?) and the
    # import's (list_id = ? AND subscriber_id IN (...)) -- read the PK b-tree and nothing else.
    # A separate (list_id, status, ...) index tempted SQLite's planner into scanning a whole
    # list for every IN (...) lookup.
    sqlite_with_rowid=False,
)

suppressions = Table(
    "suppressions",
    metadata,
    # Keyed by address, not subscriber id: a bounce or complaint may arrive for an address we
    # do not (or no longer) hold, and must still stop a later import from mailing it.
    Column("email_key", String(EMAIL_MAX), primary_key=True),
    Column("reason", String(40), nullable=False),  # unsubscribe | bounce | spamreport | ...
    Column("source", String(200), nullable=True),  # who said so: "sendgrid-webhook", "cli", ...
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
)

erasures = Table(
    "erasures",
    metadata,
    # Addresses erased on request (GDPR, Moroccan law 09-08): the person's data is gone and only
    # a SHA-256 of the address's email_key remains (digest/store/erasures.py says why this hash),
    # so no import, signup, API call or webhook brings the address back or mails it again.
    Column("key_hash", String(64), primary_key=True),
    Column("source", String(200), nullable=True),  # who erased it: "web:amina", "cli:root"
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
)

feed_cache = Table(
    "feed_cache",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("etag", String(1024), nullable=True),
    Column("last_modified", String(200), nullable=True),
    Column("content_type", String(200), nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("fetched_at", UtcDateTime, nullable=False, default=utcnow),
)


EDITION_STATUSES = ("ready", "sending", "paused", "sent", "skipped", "cancelled")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped", "unknown", "cancelled")

editions = Table(
    "editions",
    metadata,
    Column("id", String(150), primary_key=True),  # <list>-<YYYY-MM-DD>
    Column("list_id", Integer, ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
    # ready: rendered and stored (a draft until it is sent), nobody sending; sending: a process
    # holds the lease; paused: stopped on purpose (error budget, Ctrl-C, auth) and resumable;
    # sent: finished; skipped: not sent on purpose (nothing new), with the reason; cancelled:
    # stopped for good by the operator (`digest cancel`): never resumed or scheduled again.
    Column("status", String(20), nullable=False, default="ready"),
    # The approval gate: a draft that needs approval is not sent until an editor approves it.
    # Any edit after approval withdraws it (the editor approved what they saw).
    Column("needs_approval", Boolean, nullable=False, default=False),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("approved_by", String(200), nullable=True),
    # Editors' changes (pins, drops, order, note, subject), re-applied to the sources' stories.
    Column("edits_json", Text, nullable=True),
    Column("subject", String(1000), nullable=False),
    # The rendering is kept with its placeholder tokens, so a resumed send (after a crash, on
    # another day) delivers exactly what the first half of the list got, not a rebuild.
    Column("edition_json", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("tokens_json", Text, nullable=False),
    Column("backend", String(20), nullable=True),
    Column("reason", Text, nullable=True),  # why it is paused, in one sentence
    # The lease: which process is sending, and when it last said so.
    Column("owner", String(200), nullable=True),
    Column("heartbeat_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    # A delivery deadline (``--deadline``): the latest one a run was given, the rate (messages
    # a second) the last run measured, for the next edition's estimate, and once any run
    # finished after its deadline, that fact in one sentence (never cleared: health reads it).
    Column("deadline_at", UtcDateTime, nullable=True),
    Column("send_rate", Float, nullable=True),
    Column("deadline_missed", Text, nullable=True),
    # A pause asked for (web app, API, `digest pause`) while a sender runs: the loop reads it
    # between batches, like a cancel, and stops after the batch in flight; cleared when the
    # last sender leaves.
    Column("pause_requested_at", UtcDateTime, nullable=True),
    Column("pause_requested_by", String(200), nullable=True),
    CheckConstraint(
        "status IN ('ready', 'sending', 'paused', 'sent', 'skipped', 'cancelled')", name="status"
    ),
)

# The edition in the list's other locales (migration 0007): the editions row holds the default
# locale's rendering as before; each other locale's readers get this one. No row for an
# edition whose readers share one locale, so such an edition is stored as it always was.
edition_variants = Table(
    "edition_variants",
    metadata,
    Column(
        "edition_id",
        String(150),
        ForeignKey("editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("locale", String(35), primary_key=True),
    Column("subject", String(1000), nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("tokens_json", Text, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    # The ledger: one row per (edition, subscriber), written before anything is posted.
    Column("id", Integer, primary_key=True),
    Column(
        "edition_id", String(150), ForeignKey("editions.id", ondelete="CASCADE"), nullable=False
    ),
    # NULL once the reader was erased on request (digest/store/erasure.py, migration 0011):
    # the row stays, unlinked from any person, so the edition's counts stay true.
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
    ),
    # pending: to send; sending: handed to a backend, answer not recorded yet; sent; failed;
    # skipped: suppressed or unsubscribed at send time; unknown: was 'sending' when its process
    # died, or its answer was lost (a dropped connection after the message was handed over), so
    # it may or may not have arrived (resent only on --resend-unknown); cancelled: still pending
    # when the operator cancelled the edition.
    Column("status", String(10), nullable=False, default="pending"),
    # 'failed' or 'unknown' when the operator put the row back (--retry-failed,
    # --resend-unknown): `digest status` counts them and what became of them.
    Column("requeued_from", String(10), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("detail", String(500), nullable=True),  # provider message id, or why it failed
    Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    # The send_workers owner that claimed the row last: whose lease decides, when that worker
    # dies, that its in-flight rows become 'unknown' while the other workers carry on.
    Column("worker", String(200), nullable=True),
    UniqueConstraint("edition_id", "subscriber_id"),
    CheckConstraint(
        "status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'unknown', 'cancelled')",
        name="status",
    ),
    # (edition, id), not (edition, status, id): the status changes twice per row, and an index
    # on it would be rewritten each time; the claim scans pending rows in id order anyway.
    Index("ix_deliveries_edition_id", "edition_id", "id"),
)

# Every ledger row is updated twice (claimed, then answered), on columns no index covers: on
# PostgreSQL, pages left half empty let each update stay on its page (a HOT update: no new
# index entry, no dead tuple for the indexes), which made a 100,000 send ~11% faster
# (bench/bench_send.py). Migration 0010 sets it on databases made before.
DELIVERIES_FILLFACTOR = 45
event.listen(
    deliveries,
    "after_create",
    DDL(f"ALTER TABLE deliveries SET (fillfactor = {DELIVERIES_FILLFACTOR})").execute_if(
        dialect="postgresql"
    ),
)

events = Table(
    "events",
    metadata,
    # SendGrid Event Webhook events, kept for per-edition counts. SendGrid retries any non-2xx
    # answer for 24 h, so the same event can arrive twice: its sg_event_id is the key.
    # No address is stored: counts need none, and suppressions keep their own.
    Column("sg_event_id", String(100), primary_key=True),
    Column("kind", String(30), nullable=False),  # delivered | open | click | bounce | ...
    Column("edition_id", String(150), nullable=True, index=True),  # from custom_args
    Column("delivery_id", Integer, nullable=True),  # the ledger row, from custom_args
    Column("occurred_at", UtcDateTime, nullable=True),
    Column("received_at", UtcDateTime, nullable=False, default=utcnow),
    # The link of a click (clicks per story), and whether an open was a machine's (SendGrid's
    # sg_machine_open, or Apple Mail Privacy Protection fetching digest's pixel): such opens
    # are kept but not counted as readers' (digest/store/readers.py).
    Column("url", String(2048), nullable=True),
    Column("machine", Boolean, nullable=True),
)


# -- scheduling (digest/schedule/scheduler.py, digest/store/schedules.py) ---------------------------------

schedules = Table(
    "schedules",
    metadata,
    # The operator's schedules. The APScheduler job store (its own table) is derived from these
    # rows by the running scheduler, so `digest schedule add` never touches a job store that a
    # scheduler process owns (APScheduler must not share one between processes).
    Column("name", String(100), primary_key=True),
    Column("list_name", String(LIST_NAME_MAX), nullable=False),
    Column("cron", String(100), nullable=False),  # five fields, wall-clock in ``timezone``
    Column("timezone", String(64), nullable=False),
    Column("draft_at", String(5), nullable=True),  # HH:MM the same local day, before the send
    Column("approval", String(10), nullable=False, default="auto"),
    Column("if_nothing_new", String(10), nullable=False, default="skip"),
    Column("min_stories", Integer, nullable=False, default=1),
    Column("backend", String(20), nullable=False, default="outbox"),
    Column("paused", Boolean, nullable=False, default=False),
    # local_time: the cron's time is each reader's own (their zone, else the site's);
    # deadline: HH:MM by which each send should be done, in the same local time.
    Column("local_time", Boolean, nullable=False, default=False),
    Column("deadline", String(5), nullable=True),
    # A draft nobody approved by the send time: skip (the default), send it unapproved
    # (recorded in send_actions), or wait ``unapproved_wait`` minutes for an approval, then skip.
    Column("if_unapproved", String(10), nullable=False, default="skip"),
    Column("unapproved_wait", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    # The last send-time run, whatever came of it: what `digest health` reads when no edition
    # was stored (a build that failed leaves nothing else behind).
    Column("last_run_at", UtcDateTime, nullable=True),
    Column("last_status", String(20), nullable=True),
    Column("last_reason", Text, nullable=True),
    Column("last_edition_id", String(150), nullable=True),
    CheckConstraint("approval IN ('auto', 'required')", name="approval"),
    CheckConstraint("if_nothing_new IN ('skip', 'send')", name="if_nothing_new"),
    CheckConstraint("if_unapproved IN ('skip', 'send', 'wait')", name="if_unapproved"),
)

scheduler_lease = Table(
    "scheduler_lease",
    metadata,
    # One row while a `digest scheduler` runs against this database: who, and when it last said
    # so. A second scheduler refuses to start while the row is fresh (portable: no advisory lock).
    Column("name", String(50), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
)

send_workers = Table(
    "send_workers",
    metadata,
    # One row per `digest send` process that worked on an edition (digest/store/workers.py):
    # its lease (heartbeat_at + lease_seconds, renewed by a thread while it lives) and how it
    # ended. PostgreSQL lets several be active at once; SQLite one.
    Column(
        "edition_id", String(150), ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("owner", String(200), primary_key=True),  # host:pid:nonce
    # active: sending; done, paused, stopped: left on its own; dead: its lease expired or
    # its process was gone, and its in-flight rows were marked unknown.
    Column("status", String(10), nullable=False, default="active"),
    Column("backend", String(20), nullable=True),
    Column("lease_seconds", Float, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    CheckConstraint("status IN ('active', 'done', 'paused', 'stopped', 'dead')", name="status"),
)


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
