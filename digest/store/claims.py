"""How a sender takes its batches from the ledger: ``claim_batch`` reads the next rows and marks
them 'sending' in one transaction; ``peek`` reads them and marks nothing (the sender prepares
the next request from it while the current one is in flight, digest/delivery/ahead.py), and
``claim_read`` then takes exactly those rows by id. Beside other workers, ``reserve`` reads
and locks them instead, and ``claim_reserved`` takes them in that same transaction. Either
way, the previous batch's answers are written in the claim's transaction, which also reads
whether the operator asked the send to stop (then it claims nothing): one transaction per
batch. The lease is the heartbeat's to renew (workers.Heartbeat), not each claim's.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, RootTransaction, Select, and_, select, update
from sqlalchemy.exc import SQLAlchemyError

from digest.models import Subscriber
from digest.store import schema as t
from digest.store.answers import among, group_answers, write_answers
from digest.store.db import Database
from digest.store.plans import by_index
from digest.store.readerzones import in_zones
from digest.store.schema import utcnow
from digest.store.sendactions import stop_reason
from digest.store.suppressions import suppressed_clause


class Claimed(NamedTuple):  # a tuple: made for every row of a send
    delivery_id: int
    subscriber: Subscriber
    attempts: int  # including the one about to be made


class Batch(NamedTuple):
    claimed: list[Claimed]
    skipped: int
    last_id: int | None  # the keyset cursor for the next call; None when nothing was left
    # 'cancelled' or a pause's reason, read in the claim's transaction: then nothing was
    # claimed (the answers given were written), and the loop stops.
    stop: str | None = None


def batch_query(
    dialect: str,
    edition_id: str,
    list_id: int,
    *,
    after: int,
    limit: int,
    zones: Collection[str] | None = None,
    default_zone: str = "UTC",
    lock: bool = False,
) -> Select:
    """The next ``limit`` pending rows after ``after`` with their subscribers, whether each is
    still an active member, and whether the address is suppressed. ``lock``: on PostgreSQL, lock
    the rows as they are read, skipping rows another claimer holds (FOR UPDATE SKIP LOCKED)."""
    d, s, m = t.deliveries, t.subscribers, t.memberships
    # The batch's rows first, on their own (the (edition_id, id) index, in id order), then
    # joined to their subscribers by index lookups (on PostgreSQL, see plans.by_index).
    batch = (
        select(d.c.id, d.c.subscriber_id, d.c.attempts)
        .where(d.c.edition_id == edition_id, d.c.status == "pending", d.c.id > after)
        .order_by(d.c.id)
        .limit(limit)
    )
    if zones is not None:  # a local-time send: this moment's zones only
        batch = batch.join(s, s.c.id == d.c.subscriber_id).where(in_zones(zones, default_zone))
    if lock and dialect == "postgresql":
        batch = batch.with_for_update(of=d, skip_locked=True)
    b = batch.subquery("batch")
    return (
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


def sort_rows(rows: Sequence) -> tuple[list[Claimed], list[int], list[int]]:
    """(the rows to send, the ids of those who left the list, of those suppressed). Rows are
    plain tuples unpacked by position: a Row's attributes cost a lookup each, and objects kept
    for a whole batch are what the garbage collector scans."""
    claimed: list[Claimed] = []
    left: list[int] = []
    suppressed: list[int] = []
    for did, sid, attempts, email, name, locale, membership, sup in rows:
        if membership != "active":
            left.append(did)
        elif sup:
            suppressed.append(did)
        else:
            claimed.append(Claimed(did, Subscriber(sid, email, name, locale), attempts + 1))
    return claimed, left, suppressed


class Peek(NamedTuple):
    """What the next claim would find: the rows to send, those of readers who left the list or
    whose address is suppressed, and the keyset cursor after them (None: nothing left)."""

    claimed: list[Claimed]
    left: list[int]
    suppressed: list[int]
    last_id: int | None


def peek(
    db: Database,
    edition_id: str,
    list_id: int,
    *,
    after: int,
    limit: int,
    zones: Collection[str] | None = None,
    default_zone: str = "UTC",
) -> Peek:
    """What claim_batch with these arguments would find now. Reads only: claim_read then
    takes the rows by id."""
    stmt = batch_query(
        db.dialect, edition_id, list_id, after=after, limit=limit, zones=zones,
        default_zone=default_zone,
    )  # fmt: skip
    with db.read() as conn:
        return _read(conn, stmt)


def _read(conn, stmt: Select) -> Peek:
    """``stmt`` (a batch_query) run in ``conn``'s transaction, its rows sorted."""
    by_index(conn)
    rows = conn.execute(stmt).all()
    claimed, left, suppressed = sort_rows(rows)
    return Peek(claimed, left, suppressed, rows[-1][0] if rows else None)


def claim_read(
    db: Database,
    edition_id: str,
    seen: Peek,
    *,
    owner: str | None = None,
    answers: Iterable[tuple[int, str, str | None]] = (),
) -> Batch:
    """The rows a peek read, claimed by id, in one transaction with the previous batch's
    ``answers``: those still pending marked 'sending' (by ``owner``), the readers who had left
    or were suppressed 'skipped'. A row no longer pending (another claimer took it, an operator
    cancelled the edition) is left out of the batch. The membership and suppression checks are
    the peek's, made while the batch before was in flight (the loop uses a peek only when it
    is that recent)."""
    with db.write() as conn:
        return _take(conn, edition_id, seen, owner, answers)


class Reserved:
    """A peek whose rows stay locked (PostgreSQL: FOR UPDATE SKIP LOCKED) in a transaction left
    open on a connection of its own, so that no other worker claims them, until
    ``claim_reserved`` marks and commits them or ``release`` lets them go. Nothing is written
    before: a worker that dies holding one leaves its rows pending."""

    __slots__ = ("seen", "conn", "trans", "lock", "open")

    def __init__(self, seen: Peek, conn: Connection, trans: RootTransaction):
        self.seen, self.conn, self.trans = seen, conn, trans
        # Claimed by the loop, or let go by it or by a timer (ahead.py): whichever comes first.
        self.lock = threading.Lock()
        self.open = True


def reserve(
    db: Database,
    edition_id: str,
    list_id: int,
    *,
    after: int,
    limit: int,
    zones: Collection[str] | None = None,
    default_zone: str = "UTC",
) -> Reserved:
    """What claim_batch with these arguments would find now, locked and not yet marked: for a
    worker beside others (--join), whose plain peek would race their claims."""
    stmt = batch_query(
        db.dialect, edition_id, list_id, after=after, limit=limit, zones=zones,
        default_zone=default_zone, lock=True,
    )  # fmt: skip
    conn = db.engine.connect()
    try:
        trans = conn.begin()
        seen = _read(conn, stmt)
    except BaseException:
        conn.close()  # the transaction rolls back: nothing was locked for long
        raise
    return Reserved(seen, conn, trans)


def claim_reserved(
    reserved: Reserved,
    edition_id: str,
    *,
    owner: str | None = None,
    answers: Iterable[tuple[int, str, str | None]] = (),
) -> Batch | None:
    """The reserved rows claimed as ``claim_read`` claims a peek's, with the previous batch's
    ``answers``, in the reserving transaction, which commits; None if they were let go
    already. The connection is closed after, whatever happens (an error rolls everything
    back: the caller claims again)."""
    with reserved.lock:
        if not reserved.open:
            return None
        reserved.open = False
        try:
            batch = _take(reserved.conn, edition_id, reserved.seen, owner, answers)
            reserved.trans.commit()
            return batch
        finally:
            reserved.conn.close()


def release(reserved: Reserved) -> None:
    """Let the reserved rows go, untouched (a read too old to claim, a stop); once."""
    with reserved.lock:
        if not reserved.open:
            return
        reserved.open = False
        try:
            reserved.trans.rollback()
        except SQLAlchemyError:
            pass  # a connection already lost has released its locks with it
        finally:
            reserved.conn.close()


def _take(conn, edition_id: str, seen: Peek, owner: str | None, answers: Iterable) -> Batch:
    d = t.deliveries
    groups = group_answers(answers)
    now = utcnow()
    skipped = 0
    write_answers(conn, groups, now)
    stop = stop_reason(conn, edition_id)
    if stop:
        return Batch([], 0, seen.last_id, stop)
    pending = d.c.status == "pending"
    for ids, why in ((seen.left, "unsubscribed"), (seen.suppressed, "suppressed")):
        if ids:
            skipped += conn.execute(
                update(d)
                .where(among(conn, d.c.id, ids), pending)
                .values(status="skipped", detail=why, updated_at=now),
                execution_options={"preserve_rowcount": True},
            ).rowcount
    claimed = seen.claimed
    if claimed:
        ids = [c.delivery_id for c in claimed]
        count = conn.execute(
            update(d)
            .where(among(conn, d.c.id, ids), pending)
            .values(status="sending", attempts=d.c.attempts + 1, updated_at=now, worker=owner),
            execution_options={"preserve_rowcount": True},
        ).rowcount
        # Nearly always every row: its count says so (RETURNING 1,000 ids cost more than the
        # update). Else the rows marked by this very statement are those with its timestamp.
        if count != len(ids):
            mine = (among(conn, d.c.id, ids), d.c.updated_at == now, d.c.worker == owner)
            taken = set(conn.scalars(select(d.c.id).where(*mine, d.c.status == "sending")))
            claimed = [c for c in claimed if c.delivery_id in taken]
    return Batch(claimed, skipped, seen.last_id)


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
    the same transaction first: one commit per batch, not two. Then the edition's stop request
    is read: with one, nothing is claimed and the Batch says why (``stop``).

    On PostgreSQL the rows are locked as they are read, skipping rows another claimer holds
    (FOR UPDATE SKIP LOCKED): under READ COMMITTED two claimers would otherwise read the same
    pending rows and both mark them. SQLite's BEGIN IMMEDIATE serialises claimers already.
    """
    d = t.deliveries
    stmt = batch_query(
        db.dialect, edition_id, list_id, after=after, limit=limit, zones=zones,
        default_zone=default_zone, lock=True,
    )  # fmt: skip
    groups = group_answers(answers)
    now = utcnow()
    with db.write() as conn:
        write_answers(conn, groups, now)
        stop = stop_reason(conn, edition_id)
        if stop:
            return Batch([], 0, None, stop)
        seen = _read(conn, stmt)
        for ids, why in ((seen.left, "unsubscribed"), (seen.suppressed, "suppressed")):
            if ids:
                conn.execute(
                    update(d)
                    .where(among(conn, d.c.id, ids))
                    .values(status="skipped", detail=why, updated_at=now)
                )
        if seen.claimed:
            conn.execute(
                update(d)
                .where(among(conn, d.c.id, [c.delivery_id for c in seen.claimed]))
                .values(status="sending", attempts=d.c.attempts + 1, updated_at=now, worker=owner)
            )
    return Batch(seen.claimed, len(seen.left) + len(seen.suppressed), seen.last_id)
