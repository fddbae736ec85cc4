"""Is every schedule on time? One line per schedule for 'digest health' and /healthz."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from digest.schedule.triggers import MISFIRE_GRACE, last_due, zone
from digest.store.editions import get_edition
from digest.store.readerzones import deadline_missed
from digest.store.schedules import Schedule, list_schedules
from digest.store.stats import latest_editions


@dataclass(frozen=True)
class Health:
    list_name: str
    ok: bool
    line: str


def health(db, now: datetime, list_name: str | None = None) -> list[Health]:
    """One verdict per list that has schedules. Failing: the last send-time run failed, its
    edition is paused or still waits for approval, or a send is overdue (none recorded for the
    latest due day once the misfire grace has passed). A schedule paused on purpose is fine."""
    by_list: dict[str, list[tuple[bool, str]]] = {}
    for s in list_schedules(db, list_name):
        by_list.setdefault(s.list_name, []).append(
            _schedule_health(db, s, now, MISFIRE_GRACE, last_due, zone)
        )
    # A list sent by hand (no schedule) is judged on its deadline alone.
    for latest in latest_editions(db):
        late = deadline_missed(db, latest.id)
        if late and latest.list_name not in by_list and list_name in (None, latest.list_name):
            by_list[latest.list_name] = [(False, late)]
    verdicts = []
    for name, checks in sorted(by_list.items()):
        ok = all(c[0] for c in checks)
        verdicts.append(Health(name, ok, "; ".join(c[1] for c in checks)))
    return verdicts


def _schedule_health(db, s: Schedule, now, grace, last_due, zone) -> tuple[bool, str]:
    label = f"schedule {s.name}"
    if s.paused:
        return True, f"{label} is paused"
    tz = zone(s.timezone)
    due = last_due(s, now - grace)
    if due is not None and (s.created_at is None or due >= s.created_at):
        ran_day = s.last_run_at.astimezone(tz).date() if s.last_run_at else None
        if ran_day is None or ran_day < due.date():
            return False, (
                f"{label} is overdue: no run for the send due "
                f"{due:%Y-%m-%d %H:%M %Z} ({due.astimezone(UTC):%H:%M} UTC)"
            )
    if s.last_run_at is None:
        return True, f"{label} has not run yet"
    when = f"{s.last_run_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
    stored = get_edition(db, s.last_edition_id) if s.last_edition_id else None
    if stored is None:
        ok = s.last_status not in ("failed",)
        return ok, f"{label} {s.last_status} at {when}" + (
            f": {s.last_reason}" if s.last_reason else ""
        )
    late = deadline_missed(db, stored.id)
    if late:
        return False, late
    if stored.status == "paused":
        return False, f"{stored.id} is paused: {stored.reason}"
    if stored.status == "ready" and stored.needs_approval and stored.approved_at is None:
        return False, f"{stored.id} was not sent: it waits for an editor's approval"
    if stored.status == "ready":
        return False, f"{stored.id} was not sent ({s.last_status}: {s.last_reason})"
    reason = f" ({stored.reason})" if stored.reason and stored.status == "skipped" else ""
    return True, f"{stored.id} {stored.status}{reason}, run at {when}"
