"""What the send loop does for local-time sends and deadlines, kept out of the loop itself.

- A local-time schedule's run delivers only the readers whose zone's moment has come
  (``Sender.zones``); when the rows left belong to zones still to come, the edition is left
  ``sending`` without an owner (not ``paused``: nothing is wrong) until the next zone's run.
- A deadline: at the start, the finish is estimated (digest.delivery.deadline) for the rows this
  run may send; at the end the measured rate is stored for the next edition's estimate and, if
  this run finished after its deadline, the edition says so for ``digest health``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from digest.delivery import deadline as dl
from digest.store import readerzones

if TYPE_CHECKING:
    from digest.delivery.loop import Sender


def rows_for_this_run(sender: Sender) -> int:
    pending = readerzones.pending_by_zone(sender.db, sender.stored.id, sender.config.site.timezone)
    if sender.zones is None:
        return sum(pending.values())
    return sum(n for z, n in pending.items() if z in sender.zones)


def deadline_warning(sender: Sender, now: datetime) -> str | None:
    assert sender.deadline is not None
    measured = readerzones.recent_rate(
        sender.db, sender.stored.list_name, sender.backend.info.name, before=sender.stored.id
    )
    est = dl.estimate(
        rows_for_this_run(sender), measured=measured, delivery=sender.delivery, now=now
    )
    return dl.check(est, sender.deadline, sender.config.site.tz)


def zones_left(sender: Sender) -> str | None:
    """When a zone-limited run is done with its zones: why rows are still left, else None."""
    if sender.zones is None:
        return None
    pending = readerzones.pending_by_zone(sender.db, sender.stored.id, sender.config.site.timezone)
    if any(z in sender.zones for z in pending):
        return None  # rows of this run's own zones are left: a real pause
    later = ", ".join(f"{z} ({n})" for z, n in sorted(pending.items()))
    return f"the other readers wait for their own local time: {later}"


def record_run(sender: Sender, started: datetime, finished: datetime) -> str | None:
    """Store the rate and the deadline's outcome; returns the 'missed' sentence, if any."""
    r = sender.report
    seconds = (finished - started).total_seconds()
    missed = None
    # A run that stopped early (paused, cancelled) did not finish: it is not judged on time.
    if sender.deadline is not None and r.status == "sent":
        missed = dl.missed(
            sender.deadline, finished, sender.config.site.tz, edition_id=sender.stored.id
        )
    readerzones.record_deadline(
        sender.db,
        sender.stored.id,
        deadline_at=sender.deadline,
        rate=dl.measured_rate(sender.sent_this_run, seconds),
        missed=missed,
    )
    return missed
