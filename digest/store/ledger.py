"""The send ledger: one row per (edition, subscriber), so a send can stop anywhere and resume.

Life of a row: ``pending`` -> ``sending`` (committed BEFORE the batch is handed to a backend)
-> ``sent`` / ``failed`` (committed after the answer). A row still ``sending`` when its process
died cannot be known to have arrived: the next run marks it ``unknown`` and leaves it alone
unless the operator asks for it again (``resend_unknown``); so is a row whose answer was lost
after the message was handed over (a connection dropped after SMTP's final dot or after an HTTP
request body was sent). ``failed`` rows go back to pending only when the operator asks
(``retry_failed``). ``skipped`` rows are members who unsubscribed or were suppressed, checked
when their batch comes up, not when the send started. ``cancelled`` rows were pending when the
operator cancelled the edition (``digest cancel``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    LargeBinary,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from digest.headers import needs_smtputf8
from digest.store import schema as t
from digest.store.answers import DETAIL_MAX, group_answers, write_answers
from digest.store.claims import Batch, Claimed, claim_batch
from digest.store.db import Database
from digest.store.plans import by_index
from digest.store.schema import utcnow
from digest.store.workers import touch

__all__ = ["DETAIL_MAX", "Batch", "Claimed", "claim_batch"]  # where callers look for them


def populate(db: Database, edition_id: str, list_id: int) -> int:
    """One pending row per member of the list (one INSERT ... SELECT, never a Python loop).

    Members who left the list are recorded as skipped at once; suppressions are checked batch by
    batch, so one recorded during the send still counts. Rows that exist are left alone.
    """
    with db.write() as conn:
        return populate_rows(conn, edition_id, list_id)


def populate_rows(conn, edition_id: str, list_id: int, *, empty: bool = False) -> int:
    """populate() inside the caller's write transaction (workers.join fills the ledger under
    the edition's lock, so that a second worker never claims from a half-filled one).
    ``empty``: the caller found no rows for the edition in this transaction, so no member
    needs looking up in the ledger first (a fifth of the fill's time on SQLite)."""
    m, d = t.memberships, t.deliveries
    now = utcnow()
    already = exists().where(d.c.edition_id == edition_id, d.c.subscriber_id == m.c.subscriber_id)
    new = m.c.list_id == list_id if empty else and_(m.c.list_id == list_id, ~already)
    active = m.c.status == "active"
    source = (
        select(
            literal(edition_id),
            m.c.subscriber_id,
            case((active, "pending"), else_="skipped"),
            case((active, None), else_="unsubscribed"),
            literal(0),
            literal(now, t.UtcDateTime),
        )
        .where(new)
        .order_by(m.c.subscriber_id)
    )
    result = conn.execute(
        insert(d).from_select(
            ["edition_id", "subscriber_id", "status", "detail", "attempts", "updated_at"], source
        ),
        execution_options={"preserve_rowcount": True},
    )  # an INSERT: see upsert.insert_ignore
    if result.rowcount and conn.dialect.name == "postgresql":
        # A new database has no statistics yet: the claims would be planned for an empty
        # table and scan it on every batch (a first send 4x slower than on SQLite).
        conn.execute(text("ANALYZE deliveries"))
    return result.rowcount or 0


def has_rows(conn, edition_id: str) -> bool:
    d = t.deliveries
    return conn.scalar(select(d.c.id).where(d.c.edition_id == edition_id).limit(1)) is not None


def record(
    db: Database,
    results: Iterable[tuple[int, str, str | None]],
    *,
    edition_id: str,
    owner: str | None = None,
) -> None:
    """Store (delivery id, status, detail) answers in one transaction.

    Rows sharing a status and detail (a SendGrid batch shares one X-Message-Id) are updated by
    one statement; the rest row by row in one executemany.
    """
    groups = group_answers(results)
    if not groups:
        return
    with db.write() as conn:
        write_answers(conn, groups, utcnow())
        if owner:
            touch(conn, edition_id, owner)


def mark_interrupted(db: Database, edition_id: str) -> int:
    """Rows left 'sending' by a process that died: they may have arrived. Mark them unknown."""
    d = t.deliveries
    with db.write() as conn:
        return conn.execute(
            update(d)
            .where(d.c.edition_id == edition_id, d.c.status == "sending")
            .values(
                status="unknown",
                detail="in flight when the sending process stopped",
                updated_at=utcnow(),
            )
        ).rowcount


def resend_unknown(db: Database, edition_id: str) -> int:
    """The operator asked: unknown rows go back to pending (they may arrive twice)."""
    with db.write() as conn:
        return requeue(conn, edition_id, "unknown")


def retry_failed(db: Database, edition_id: str, reason: str | None = None) -> int:
    """The operator asked: failed rows (those whose reason contains ``reason``, any case) go
    back to pending. A failure is an answer, so nobody gets it twice by this."""
    with db.write() as conn:
        return requeue(conn, edition_id, "failed", reason)


def requeue(conn, edition_id: str, status: str, reason: str | None = None) -> int:
    """Inside a write transaction: rows of ``status`` (and ``reason``) back to pending, marked
    with where they came from for ``digest status``."""
    d = t.deliveries
    stmt = update(d).where(d.c.edition_id == edition_id, d.c.status == status)
    if reason:
        stmt = stmt.where(func.lower(d.c.detail).contains(reason.lower(), autoescape=True))
    # attempts back to 0: the operator asked for a fresh try, with the whole retry budget (a
    # row that gave up after 451s would otherwise give up again at its first 4xx).
    return conn.execute(
        stmt.values(status="pending", requeued_from=status, attempts=0, updated_at=utcnow())
    ).rowcount


def reopen_sent(
    db: Database, edition_id: str, *, unknown: bool, failed: bool, reason: str | None = None
) -> tuple[int, int]:
    """A ``sent`` edition the operator asks to finish: the asked-for rows back to pending and
    the edition ``paused`` again, in one transaction (nobody holds a lease on a sent edition).
    Returns (unknown, failed) rows put back; an edition not ``sent`` is left for the sender to
    requeue under its lease."""
    e = t.editions
    with db.write() as conn:
        status = conn.scalar(select(e.c.status).where(e.c.id == edition_id).with_for_update())
        if status != "sent":
            return 0, 0
        n_unknown = requeue(conn, edition_id, "unknown") if unknown else 0
        n_failed = requeue(conn, edition_id, "failed", reason) if failed else 0
        if n_unknown or n_failed:
            conn.execute(
                update(e)
                .where(e.c.id == edition_id)
                .values(status="paused", reason="reopened by the operator")
            )
    return n_unknown, n_failed


def requeued(db: Database, edition_id: str) -> dict[str, dict[str, int]]:
    """{'failed' | 'unknown': {status now: rows}} for the rows the operator put back."""
    d = t.deliveries
    with db.read() as conn:
        rows = conn.execute(
            select(d.c.requeued_from, d.c.status, func.count())
            .where(d.c.edition_id == edition_id, d.c.requeued_from.is_not(None))
            .group_by(d.c.requeued_from, d.c.status)
        ).all()
    out: dict[str, dict[str, int]] = {}
    for source, status, n in rows:
        out.setdefault(source, {})[status] = n
    return out


def failure_reasons(db: Database, edition_id: str, limit: int = 10) -> list[tuple[str, int]]:
    """(reason, rows) of failed rows, most common first: what ``--reason`` can pick."""
    d = t.deliveries
    n = func.count().label("n")
    with db.read() as conn:
        return [
            (r.detail or "", r.n)
            for r in conn.execute(
                select(d.c.detail, n)
                .where(d.c.edition_id == edition_id, d.c.status == "failed")
                .group_by(d.c.detail)
                .order_by(n.desc(), d.c.detail)
                .limit(limit)
            )
        ]


def counts(db: Database, edition_id: str) -> dict[str, int]:
    d = t.deliveries
    with db.read() as conn:
        by_index(conn)  # the edition's rows, not a scan of every edition's (plans.py)
        rows = conn.execute(
            select(d.c.status, func.count())
            .where(d.c.edition_id == edition_id)
            .group_by(d.c.status)
        ).all()
    out = dict.fromkeys(t.DELIVERY_STATUSES, 0)
    out.update({status: n for status, n in rows})
    return out


def failures(db: Database, edition_id: str, limit: int = 20) -> list[tuple[str, str]]:
    """(address, reason) of failed rows, for the operator's summary."""
    d, s = t.deliveries, t.subscribers
    with db.read() as conn:
        by_index(conn)
        return [
            (r.email, r.detail or "")
            for r in conn.execute(
                select(s.c.email, d.c.detail)
                .join(s, s.c.id == d.c.subscriber_id)
                .where(d.c.edition_id == edition_id, d.c.status == "failed")
                .order_by(d.c.id)
                .limit(limit)
            )
        ]


def utf8_local_counts(db: Database, edition_id: str) -> dict[str, int]:
    """{status: rows} of the edition's recipients whose address has a non-ASCII local part
    (they need SMTPUTF8); empty when there are none."""
    d, s = t.deliveries, t.subscribers
    with db.read() as conn:
        # Only addresses with a non-ASCII byte anywhere come back (few); the local part is
        # then looked at here. SQLite counts a BLOB's length in bytes, PostgreSQL has
        # octet_length: either differs from the length in characters exactly then.
        if conn.dialect.name == "sqlite":
            wide = func.length(cast(s.c.email, LargeBinary)) != func.length(s.c.email)
        else:
            wide = func.octet_length(s.c.email) != func.char_length(s.c.email)
        rows = conn.execute(
            select(s.c.email, d.c.status)
            .join(s, s.c.id == d.c.subscriber_id)
            .where(d.c.edition_id == edition_id, wide)
        ).all()
    out: dict[str, int] = {}
    for email, status in rows:
        if needs_smtputf8(email):
            out[status] = out.get(status, 0) + 1
    return out
