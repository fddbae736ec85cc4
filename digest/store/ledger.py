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

import json
from collections.abc import Collection, Iterable
from typing import NamedTuple

from sqlalchemy import (
    Integer,
    LargeBinary,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from digest.headers import needs_smtputf8
from digest.models import Subscriber
from digest.store import schema as t
from digest.store.db import Database
from digest.store.readerzones import in_zones
from digest.store.schema import utcnow
from digest.store.suppressions import suppressed_clause
from digest.store.workers import touch

DETAIL_MAX = 500


class Claimed(NamedTuple):  # a tuple: made for every row of a send
    delivery_id: int
    subscriber: Subscriber
    attempts: int  # including the one about to be made


class Batch(NamedTuple):
    claimed: list[Claimed]
    skipped: int
    last_id: int | None  # the keyset cursor for the next call; None when nothing was left


def populate(db: Database, edition_id: str, list_id: int) -> int:
    """One pending row per member of the list (one INSERT ... SELECT, never a Python loop).

    Members who left the list are recorded as skipped at once; suppressions are checked batch by
    batch, so one recorded during the send still counts. Rows that exist are left alone.
    """
    with db.write() as conn:
        return populate_rows(conn, edition_id, list_id)


def populate_rows(conn, edition_id: str, list_id: int) -> int:
    """populate() inside the caller's write transaction (workers.join fills the ledger under
    the edition's lock, so that a second worker never claims from a half-filled one)."""
    m, d = t.memberships, t.deliveries
    now = utcnow()
    already = exists().where(d.c.edition_id == edition_id, d.c.subscriber_id == m.c.subscriber_id)
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
        .where(m.c.list_id == list_id, ~already)
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


def claim_batch(
    db: Database,
    edition_id: str,
    list_id: int,
    *,
    after: int,
    limit: int,
    owner: str | None = None,
    zones: Collection[str] | None = None,
    default_zone: str = "UTC",
    answers: Iterable[tuple[int, str, str | None]] = (),
) -> Batch:
    """The next ``limit`` pending rows after ``after``, marked ``sending`` (and claimed by
    ``owner``) in one transaction. ``zones``: only readers in those zones (``default_zone`` for
    those without one). ``answers`` (as for ``record``), the previous batch's, are recorded in
    the same transaction first: one commit per batch, not two.

    On PostgreSQL the rows are locked as they are read, skipping rows another claimer holds
    (FOR UPDATE SKIP LOCKED): under READ COMMITTED two claimers would otherwise read the same
    pending rows and both mark them. SQLite's BEGIN IMMEDIATE serialises claimers already.
    """
    d, s, m = t.deliveries, t.subscribers, t.memberships
    # The batch's rows first, on their own (the (edition_id, id) index, in id order), then
    # joined to their subscribers by index lookups (on PostgreSQL, see below).
    batch = (
        select(d.c.id, d.c.subscriber_id, d.c.attempts)
        .where(d.c.edition_id == edition_id, d.c.status == "pending", d.c.id > after)
        .order_by(d.c.id)
        .limit(limit)
    )
    if zones is not None:  # a local-time send: this moment's zones only
        batch = batch.join(s, s.c.id == d.c.subscriber_id).where(in_zones(zones, default_zone))
    if db.dialect == "postgresql":
        batch = batch.with_for_update(of=d, skip_locked=True)
    b = batch.subquery("batch")
    stmt = (
        select(
            b.c.id,
            b.c.subscriber_id,
            b.c.attempts,
            s.c.email,
            s.c.name,
            s.c.locale,
            m.c.status.label("membership"),
            suppressed_clause(s.c.email_key).label("sup"),
        )
        .join(s, s.c.id == b.c.subscriber_id)
        .outerjoin(m, and_(m.c.list_id == list_id, m.c.subscriber_id == b.c.subscriber_id))
        .order_by(b.c.id)
    )
    groups = _groups(answers)
    now = utcnow()
    with db.write() as conn:
        _record_groups(conn, groups, now)
        if db.dialect == "postgresql":
            # A batch is LIMIT rows: PostgreSQL's statistics made it hash-join them against a
            # full scan of subscribers and memberships instead (23 ms a batch against 3 ms on
            # 100,000 readers; 80 ms once a later day's ledger held several editions). Index
            # lookups whatever the statistics say, for this transaction only.
            conn.execute(text("SET LOCAL enable_hashjoin = off"))
            conn.execute(text("SET LOCAL enable_mergejoin = off"))
        # Rows as plain tuples, unpacked by position: a Row's attributes cost a lookup each,
        # and objects kept for a whole batch are what the garbage collector scans.
        rows = conn.execute(stmt).all()
        if rows:
            claimed, left, suppressed, go = [], [], [], []
            for did, sid, attempts, email, name, locale, membership, sup in rows:
                if membership != "active":
                    left.append(did)
                elif sup:
                    suppressed.append(did)
                else:
                    go.append(did)
                    claimed.append(Claimed(did, Subscriber(sid, email, name, locale), attempts + 1))
            for ids, why in ((left, "unsubscribed"), (suppressed, "suppressed")):
                if ids:
                    conn.execute(
                        update(d)
                        .where(_among(conn, d.c.id, ids))
                        .values(status="skipped", detail=why, updated_at=now)
                    )
            if go:
                conn.execute(
                    update(d)
                    .where(_among(conn, d.c.id, go))
                    .values(
                        status="sending", attempts=d.c.attempts + 1, updated_at=now, worker=owner
                    )
                )
        if owner and (rows or groups):
            touch(conn, edition_id, owner, now)
    if not rows:
        return Batch([], 0, None)
    return Batch(claimed, len(left) + len(suppressed), rows[-1][0])


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
    groups = _groups(results)
    if not groups:
        return
    with db.write() as conn:
        _record_groups(conn, groups, utcnow())
        if owner:
            touch(conn, edition_id, owner)


def _groups(
    results: Iterable[tuple[int, str, str | None]],
) -> dict[tuple[str, str | None], list[int]]:
    groups: dict[tuple[str, str | None], list[int]] = {}
    for delivery_id, status, detail in results:
        groups.setdefault((status, (detail or "")[:DETAIL_MAX] or None), []).append(delivery_id)
    return groups


def _record_groups(conn, groups: dict[tuple[str, str | None], list[int]], now) -> None:
    d = t.deliveries
    singles = []
    for (status, detail), ids in groups.items():
        if len(ids) == 1:
            singles.append({"b_id": ids[0], "b_status": status, "b_detail": detail})
        else:
            conn.execute(
                update(d)
                .where(_among(conn, d.c.id, ids))
                .values(status=status, detail=detail, updated_at=now)
            )
    if singles:
        conn.execute(
            update(d)
            .where(d.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), detail=bindparam("b_detail"), updated_at=now),
            singles,
        )


def _among(conn, column, ids: list[int]):
    """``column IN ids`` as ONE bound value, whatever the number of ids: an expanding IN of
    1,000 parameters costs SQLAlchemy ~1 ms to render per statement, more than the update.
    SQLite reads them from a JSON array (json_each, built in since 3.38 and in the usual
    builds long before), PostgreSQL from an array (= ANY)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    rows: Select = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", json.dumps(ids), type_=String))
    )
    return column.in_(rows.scalar_subquery())


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
