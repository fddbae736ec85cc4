"""Importing subscribers from CSV: rows merged into a list in chunks, under the consent rules of
digest/store/subscribers.py (an unsubscribed membership is never reactivated, a suppressed address
is skipped, an empty cell never erases), with a report of what happened to each row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import (
    Connection,
    Integer,
    bindparam,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from digest.errors import StoreError
from digest.headers import needs_smtputf8
from digest.store import schema as t
from digest.store.csvformats import OPT_OUT, SUPPRESS
from digest.store.csvio import CsvStream
from digest.store.csvrows import REPORT_MAX, CsvResult, CsvRow, Rejected
from digest.store.db import Database
from digest.store.erasures import erased_keys
from digest.store.lists import (
    check_list_name,
    get_or_create_list,
)

# Rows per round trip. Keeps every IN (...) well under SQLite's bound-parameter limit (999 on
# old builds) while 100k rows still take only ~200 batches.
CHUNK = 500


@dataclass
class ImportReport:
    """What an import did. Every CSV row lands in exactly one of the counts below."""

    list_name: str
    created_list: bool = False
    added: int = 0  # now an active member of the list (new address, or new to this list)
    updated: int = 0  # already an active member; name, locale or time zone changed
    unchanged: int = 0  # already an active member; nothing to change
    skipped_unsubscribed: int = 0  # left this list earlier: not resubscribed, not touched
    skipped_suppressed: int = 0  # globally suppressed: not added, not touched
    skipped_erased: int = 0  # erased on request (only a hash is kept): never added again
    opted_out: int = 0  # the file says they left (Mailchimp unsubscribed...): kept unsubscribed
    suppressed: int = 0  # the file says never mail (Mailchimp cleaned, listmonk blocklisted)
    rejected: list[Rejected] = field(default_factory=list)  # from the CSV: invalid rows
    merged: int = 0  # repeated addresses inside the file (the first row won)
    notes: list[str] = field(default_factory=list)
    warnings: list[Rejected] = field(default_factory=list)  # imported, one value dropped
    formats: list[str] = field(default_factory=list)  # per file: what it was recognised as
    rejected_count: int = 0  # all rejected rows; ``rejected`` keeps the first REPORT_MAX
    # Active members after the import whose address has a non-ASCII local part: only a
    # backend that speaks SMTPUTF8 (or the outbox, SendGrid) can deliver to them.
    utf8_local: int = 0

    @property
    def rows(self) -> int:
        return (
            self.added
            + self.updated
            + self.unchanged
            + self.skipped_unsubscribed
            + self.skipped_suppressed
            + self.skipped_erased
            + self.opted_out
            + self.suppressed
        )

    @property
    def total_rejected(self) -> int:
        return max(self.rejected_count, len(self.rejected))

    def add_file(self, result: CsvResult) -> None:
        room = max(0, REPORT_MAX - len(self.rejected))
        self.rejected.extend(result.rejected[:room])
        self.rejected_count += result.total_rejected
        self.warnings.extend(result.warnings[: max(0, REPORT_MAX - len(self.warnings))])
        self.merged += result.total_merged
        prefix = f"{result.source}: " if result.source else ""
        self.notes.extend(prefix + note for note in result.notes)
        self.formats.append(prefix + result.format)


def import_subscribers(
    db: Database,
    list_name: str,
    source: CsvResult | CsvStream | Sequence[CsvStream],
    *,
    title: str | None = None,
) -> ImportReport:
    """Add the rows of ``source`` to ``list_name`` (created if needed, titled ``title``).

    ``source`` is a parsed ``CsvResult`` or, for files of any size, the streams of
    ``csvio.open_subscriber_files`` (read here, ``CHUNK`` rows at a time, never held whole).
    One transaction: a failure, including a file found unusable half-way, leaves the database
    as it was. Each chunk is done with set-based statements (one SELECT per table per chunk,
    executemany for writes), never a query per row.
    """
    name = check_list_name(list_name)
    if isinstance(source, CsvResult):
        files: list[tuple[CsvResult, Iterable[CsvRow]]] = [(source, source.rows)]
    else:
        streams = [source] if isinstance(source, CsvStream) else list(source)
        files = [(stream.result, stream) for stream in streams]
    report = ImportReport(list_name=name)
    now = t.utcnow()
    try:
        with db.write() as conn:
            list_id, report.created_list = get_or_create_list(conn, name, title, now)
            for result, rows in files:
                # csvio merges repeated addresses of a stream itself; a hand-built CsvResult
                # is checked here, across chunks.
                seen: set[str] | None = set() if isinstance(source, CsvResult) else None
                batches = iter(rows)
                while chunk := list(islice(batches, CHUNK)):
                    _import_chunk(
                        conn, list_id, chunk, now, report, seen, result.suppression_reason
                    )
                report.add_file(result)
    except IntegrityError as exc:
        # Only reachable when another process imported the same new addresses concurrently
        # (PostgreSQL); the transaction rolled back, so running it again is safe.
        raise StoreError(
            f"the import into {name!r} collided with a concurrent change and was "
            f"rolled back; run it again ({exc.orig})"
        ) from None
    return report


def _import_chunk(
    conn: Connection,
    list_id: int,
    chunk: list[CsvRow],
    now: datetime,
    report: ImportReport,
    seen: set[str] | None,
    reason: str,
) -> None:
    s, m = t.subscribers, t.memberships
    by_key: dict[str, CsvRow] = {}
    for row in chunk:
        key = row.email.lower()
        if key in by_key or (seen is not None and key in seen):
            report.merged += 1
            continue
        if seen is not None:
            seen.add(key)
        by_key[key] = row
    # Erased on request: not added, not suppressed under their address, not even opted out;
    # nothing of the row is written (the address would be stored again).
    for key in erased_keys(conn, by_key):
        del by_key[key]
        report.skipped_erased += 1
    keys = list(by_key)

    suppressed_keys = set(
        conn.scalars(select(t.suppressions.c.email_key).where(t.suppressions.c.email_key.in_(keys)))
    )
    existing = {
        r.email_key: r
        for r in conn.execute(
            select(s.c.id, s.c.email_key, s.c.name, s.c.locale, s.c.timezone).where(
                s.c.email_key.in_(keys)
            )
        )
    }
    status: dict[int, str] = {}
    if existing:
        status = dict(
            conn.execute(
                select(m.c.subscriber_id, m.c.status).where(
                    m.c.list_id == list_id, m.c.subscriber_id.in_([r.id for r in existing.values()])
                )
            ).all()
        )

    new_subscribers, changes, new_suppressions = [], [], []
    join: dict[str, list[str]] = {"active": [], "unsubscribed": []}
    leaving: list[int] = []  # active members the file says left
    for key, row in by_key.items():
        if row.action == SUPPRESS:
            # Mailchimp "cleaned", listmonk "blocklisted": never mailed, on any list.
            if key not in suppressed_keys:
                new_suppressions.append(
                    {"email_key": key, "reason": reason, "source": "import", "created_at": now}
                )
            report.suppressed += 1
            continue
        if key in suppressed_keys:
            report.skipped_suppressed += 1
            continue
        old = existing.get(key)
        if old is None:
            new_subscribers.append(
                {
                    "email": row.email,
                    "email_key": key,
                    "name": row.name,
                    "locale": row.locale,
                    "timezone": row.timezone,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if row.action == OPT_OUT:
                join["unsubscribed"].append(key)
                report.opted_out += 1
            else:
                join["active"].append(key)
                report.added += 1
                report.utf8_local += needs_smtputf8(row.email)
            continue
        if row.action == OPT_OUT:
            # The person left (on the old tool): record it here too, whatever this list says;
            # the stored name and time zone are left as they are.
            if old.id not in status:
                join["unsubscribed"].append(key)
            elif status[old.id] == "active":
                leaving.append(old.id)
            report.opted_out += 1
            continue
        if status.get(old.id) == "unsubscribed":
            report.skipped_unsubscribed += 1  # consent: only the person can resubscribe
            continue
        # Empty cells keep the stored value; the stored address keeps its original spelling.
        values = (row.name or old.name, row.locale or old.locale, row.timezone or old.timezone)
        changed = values != (old.name, old.locale, old.timezone)
        if changed:
            changes.append(
                {
                    "b_id": old.id,
                    "b_name": values[0],
                    "b_locale": values[1],
                    "b_timezone": values[2],
                    "b_now": now,
                }
            )
        if old.id not in status:
            join["active"].append(key)
            report.added += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
        report.utf8_local += needs_smtputf8(row.email)

    if new_suppressions:
        conn.execute(insert(t.suppressions), new_suppressions)
    if new_subscribers:
        conn.execute(insert(s), new_subscribers)
    if changes:
        conn.execute(
            update(s)
            .where(s.c.id == bindparam("b_id"))
            .values(
                name=bindparam("b_name"),
                locale=bindparam("b_locale"),
                timezone=bindparam("b_timezone"),
                updated_at=bindparam("b_now"),
            ),
            changes,
        )
    if leaving:
        conn.execute(
            update(m)
            .where(m.c.list_id == list_id, m.c.subscriber_id.in_(leaving), m.c.status == "active")
            .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
        )
    for member_status, join_keys in join.items():
        if not join_keys:
            continue
        left_at = now if member_status == "unsubscribed" else None
        # INSERT ... SELECT: the new ids never travel back to Python, and the constant columns
        # are bound once per chunk instead of once per row.
        conn.execute(
            insert(m).from_select(
                [
                    "list_id",
                    "subscriber_id",
                    "status",
                    "created_at",
                    "unsubscribed_at",
                    "updated_at",
                ],
                select(
                    literal(list_id, Integer),
                    s.c.id,
                    literal(member_status),
                    literal(now, t.UtcDateTime),
                    literal(left_at, t.UtcDateTime),
                    literal(now, t.UtcDateTime),
                ).where(s.c.email_key.in_(join_keys)),
            )
        )
