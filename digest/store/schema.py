"""The tables, in SQLAlchemy 2 Core. Portable: the same metadata runs on SQLite and PostgreSQL.

Only this package touches the database (see DESIGN.md); everything here is plain Core so the
queries elsewhere in ``digest.store`` can be read as the SQL they emit.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

# The metadata, the column types and the size limits: digest/store/columns.py (re-exported:
# callers read them as ``schema.X`` beside the tables).
from digest.store.columns import EMAIL_MAX as EMAIL_MAX
from digest.store.columns import LIST_NAME_MAX as LIST_NAME_MAX
from digest.store.columns import MEMBERSHIP_STATUSES as MEMBERSHIP_STATUSES
from digest.store.columns import NAME_MAX as NAME_MAX
from digest.store.columns import TIMEZONE_MAX as TIMEZONE_MAX
from digest.store.columns import UtcDateTime as UtcDateTime
from digest.store.columns import max_length as max_length
from digest.store.columns import metadata as metadata
from digest.store.columns import utcnow as utcnow

# The web app's and send control's tables live in webtables.py, on the same metadata.
from digest.store.webtables import API_SCOPES as API_SCOPES
from digest.store.webtables import api_tokens as api_tokens
from digest.store.webtables import audit_log as audit_log
from digest.store.webtables import send_actions as send_actions
from digest.store.webtables import signup_confirmations as signup_confirmations
from digest.store.webtables import web_sessions as web_sessions

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
    # No foreign keys (migration 0013): rows are only ever made by ledger.populate_rows, one
    # INSERT ... SELECT of the edition's own list members, editions are never deleted, and an
    # erasure unlinks a reader's rows before it deletes them. On PostgreSQL the two keys'
    # per-row checks were 84% of that fill (2.1 of 2.5 s for 100,000 rows, every edition).
    Column("edition_id", String(150), nullable=False),
    # NULL once the reader was erased on request (digest/store/erasure.py, migration 0011):
    # the row stays, unlinked from any person, so the edition's counts stay true.
    Column("subscriber_id", Integer, nullable=True),
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
