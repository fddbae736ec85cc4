"""Schedules as the operator wrote them, the outcome of their last run, and the scheduler lease.

The APScheduler job store is not here: it is derived from these rows by the one running
scheduler (digest/schedule/scheduler.py). The lease row is what makes it the only one.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.errors import DigestError
from digest.store import schema as t
from digest.store.db import Database
from digest.store.editions import pid_alive
from digest.store.schema import utcnow

# The scheduler renews its lease every LEASE_RENEW; another one may take over after
# LEASE_STALE (three missed renewals), or at once if the holder's pid is gone on this host.
LEASE_RENEW = timedelta(seconds=15)
LEASE_STALE = timedelta(seconds=60)
LEASE_NAME = "scheduler"


class ScheduleError(DigestError):
    """A schedule that does not exist, or one that cannot be added as given."""


class SchedulerBusy(DigestError):
    """Another scheduler holds this database."""


@dataclass(frozen=True)
class Schedule:
    name: str
    list_name: str
    cron: str
    timezone: str
    draft_at: str | None = None
    approval: str = "auto"
    if_nothing_new: str = "skip"
    min_stories: int = 1
    backend: str = "outbox"
    paused: bool = False
    local_time: bool = False  # the cron's time in each reader's zone (else the site's)
    deadline: str | None = None  # HH:MM, in the same local time as the send
    if_unapproved: str = "skip"  # skip | send | wait (unapproved_wait minutes, then skip)
    unapproved_wait: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
    last_reason: str | None = None
    last_edition_id: str | None = None


_COLUMNS = [f.name for f in fields(Schedule)]
_SETTINGS = (
    "list_name",
    "cron",
    "timezone",
    "draft_at",
    "approval",
    "if_nothing_new",
    "min_stories",
    "backend",
    "paused",
    "local_time",
    "deadline",
    "if_unapproved",
    "unapproved_wait",
)


def _from_row(row) -> Schedule:
    m = row._mapping
    return Schedule(**{k: m[k] for k in _COLUMNS})


def add_schedule(db: Database, schedule: Schedule, *, replace: bool = False) -> None:
    values = {k: getattr(schedule, k) for k in _SETTINGS}
    now = utcnow()
    s = t.schedules
    for key, value in (("name", schedule.name), *values.items()):
        limit = getattr(s.c[key].type, "length", None)
        if limit and isinstance(value, str) and len(value) > limit:  # PostgreSQL would refuse
            raise ScheduleError(f"the schedule's {key} is longer than {limit} characters")
    with db.write() as conn:
        exists = conn.scalar(select(s.c.name).where(s.c.name == schedule.name))
        if exists and not replace:
            raise ScheduleError(
                f"there is a schedule named {schedule.name!r} already; "
                "use --replace to change it, or remove it first"
            )
        if exists:
            conn.execute(
                update(s).where(s.c.name == schedule.name).values(updated_at=now, **values)
            )
        else:
            conn.execute(
                insert(s).values(name=schedule.name, created_at=now, updated_at=now, **values)
            )


def get_schedule(db: Database, name: str) -> Schedule:
    with db.read() as conn:
        row = conn.execute(select(t.schedules).where(t.schedules.c.name == name)).first()
    if row is None:
        raise ScheduleError(
            f"there is no schedule named {name!r} ('digest schedule list' shows them)"
        )
    return _from_row(row)


def list_schedules(db: Database, list_name: str | None = None) -> list[Schedule]:
    stmt = select(t.schedules).order_by(t.schedules.c.name)
    if list_name:
        stmt = stmt.where(t.schedules.c.list_name == list_name)
    with db.read() as conn:
        return [_from_row(r) for r in conn.execute(stmt)]


def set_paused(db: Database, name: str, paused: bool) -> None:
    s = t.schedules
    with db.write() as conn:
        done = conn.execute(
            update(s).where(s.c.name == name).values(paused=paused, updated_at=utcnow())
        ).rowcount
    if not done:
        get_schedule(db, name)  # raises the clear error


def remove_schedule(db: Database, name: str) -> None:
    with db.write() as conn:
        done = conn.execute(delete(t.schedules).where(t.schedules.c.name == name)).rowcount
    if not done:
        get_schedule(db, name)


def changes_stamp(db: Database) -> tuple:
    """Changes whenever a schedule is added, changed or removed: the scheduler polls it."""
    s = t.schedules
    with db.read() as conn:
        return tuple(conn.execute(select(func.count(), func.max(s.c.updated_at))).one())


def record_run(
    db: Database,
    name: str,
    *,
    at: datetime,
    status: str,
    reason: str | None,
    edition_id: str | None,
) -> None:
    """The outcome of a send-time run (not a touch of updated_at: that would resync jobs)."""
    s = t.schedules
    with db.write() as conn:
        conn.execute(
            update(s)
            .where(s.c.name == name)
            .values(
                last_run_at=at, last_status=status, last_reason=reason, last_edition_id=edition_id
            )
        )


def note_edition_reason(db: Database, edition_id: str, reason: str) -> None:
    """Say on a waiting edition why it was not sent (the history and health show it)."""
    e = t.editions
    with db.write() as conn:
        conn.execute(
            update(e).where(e.c.id == edition_id, e.c.status == "ready").values(reason=reason)
        )


def previous_editions(db: Database, list_name: str, *, before: str, limit: int) -> list[dict]:
    """The edition JSON of the list's latest editions that went out (whole or in part).

    Editions never sent (skipped, or left waiting for approval) are not counted: their stories
    never reached anyone, so they are still new. Ids are <list>-YYYY-MM-DD, so they sort by day.
    """
    e, lists = t.editions, t.lists
    stmt = (
        select(e.c.edition_json)
        .join(lists, lists.c.id == e.c.list_id)
        .where(
            lists.c.name == list_name,
            e.c.id < before,
            e.c.status.in_(("sent", "sending", "paused")),
        )
        .order_by(e.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [json.loads(r) for r in conn.scalars(stmt)]


# -- the scheduler lease -------------------------------------------------------------------------


def acquire_lease(db: Database, owner: str, *, now: datetime | None = None) -> None:
    """Become the one scheduler of this database, or raise SchedulerBusy with who holds it."""
    try:
        _acquire(db, owner, now or utcnow())
    except IntegrityError:
        # PostgreSQL: two schedulers found no row at the same moment and both inserted it.
        raise SchedulerBusy(
            "another scheduler started on this database at the same moment; "
            "only one may run per database"
        ) from None


def _acquire(db: Database, owner: str, now: datetime) -> None:
    lease = t.scheduler_lease
    with db.write() as conn:
        row = conn.execute(
            select(lease).where(lease.c.name == LEASE_NAME).with_for_update()
        ).first()
        if row is not None and row.owner != owner and _alive(row, now):
            raise SchedulerBusy(
                f"another scheduler is running on this database ({row.owner}, started "
                f"{row.started_at:%Y-%m-%d %H:%M:%S} UTC, last seen "
                f"{row.heartbeat_at:%H:%M:%S} UTC). Only one may run per database: stop it "
                f"first, or wait {int(LEASE_STALE.total_seconds())} s after it died"
            )
        if row is None:
            conn.execute(
                insert(lease).values(name=LEASE_NAME, owner=owner, started_at=now, heartbeat_at=now)
            )
        else:
            conn.execute(
                update(lease)
                .where(lease.c.name == LEASE_NAME)
                .values(owner=owner, started_at=now, heartbeat_at=now)
            )


def renew_lease(db: Database, owner: str) -> bool:
    """False when the lease is no longer ours (taken over after we stalled): stop scheduling."""
    lease = t.scheduler_lease
    with db.write() as conn:
        return bool(
            conn.execute(
                update(lease)
                .where(lease.c.name == LEASE_NAME, lease.c.owner == owner)
                .values(heartbeat_at=utcnow())
            ).rowcount
        )


def release_lease(db: Database, owner: str) -> None:
    lease = t.scheduler_lease
    with db.write() as conn:
        conn.execute(delete(lease).where(lease.c.name == LEASE_NAME, lease.c.owner == owner))


@dataclass(frozen=True)
class Lease:
    owner: str  # host:pid:nonce of the running scheduler
    started_at: datetime
    heartbeat_at: datetime


def lease_holder(db: Database) -> Lease | None:
    """Who holds the scheduler lease, for health checks (None: no scheduler has it)."""
    lease = t.scheduler_lease
    with db.read() as conn:
        row = conn.execute(
            select(lease.c.owner, lease.c.started_at, lease.c.heartbeat_at).where(
                lease.c.name == LEASE_NAME
            )
        ).first()
    return Lease(row.owner, row.started_at, row.heartbeat_at) if row else None


def _alive(row, now: datetime) -> bool:
    if now - row.heartbeat_at > LEASE_STALE:
        return False
    host, _, rest = row.owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit():
        return pid_alive(int(pid))
    return True
