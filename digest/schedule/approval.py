"""A draft nobody approved by the send time, per the schedule's ``if_unapproved`` rule:

- ``skip`` (the default, the behaviour before the rule existed): not sent, the reason written on
  the edition, ``digest health`` fails for the list until it is resolved;
- ``send``: sent unapproved, recorded as such (``send_actions``: ``send-unapproved`` by
  ``schedule:NAME``), the edition no longer waiting for anyone;
- ``wait``: the send waits up to ``unapproved_wait`` minutes for an editor's approval (checked
  every few seconds, cut short by a stop request), sends if one comes, else skips as above.
"""

from __future__ import annotations

import time
from threading import Event

from digest.store.editions import get_edition
from digest.store.schedules import Schedule
from digest.store.sendactions import record_action, waive_approval

MINUTE = 60.0  # seconds in a minute of ``unapproved_wait`` (a test makes it shorter)
POLL = 5.0  # seconds between two looks at the approval while waiting


def settle_unapproved(db, schedule: Schedule, edition_id: str, *, stop: Event | None) -> bool:
    """True when the edition may now be sent (approved meanwhile, or sent unapproved)."""
    actor = f"schedule:{schedule.name}"
    if schedule.if_unapproved == "send":
        waive_approval(db, edition_id)
        record_action(
            db,
            edition_id,
            "send-unapproved",
            actor=actor,
            detail="nobody approved it by the send time; the schedule says send",
        )
        return True
    if schedule.if_unapproved != "wait" or not schedule.unapproved_wait:
        return False
    stop = stop or Event()
    until = time.monotonic() + schedule.unapproved_wait * MINUTE
    record_action(
        db,
        edition_id,
        "wait-for-approval",
        actor=actor,
        detail=f"up to {schedule.unapproved_wait} minutes",
    )
    while not stop.is_set():
        stored = get_edition(db, edition_id)
        if stored is None or stored.approved_at is not None or stored.status != "ready":
            return stored is not None and stored.approved_at is not None
        left = until - time.monotonic()
        if left <= 0:
            return False
        stop.wait(min(POLL * MINUTE / 60.0, left))
    return False
