"""A draft waiting for an editor: the email that says so, and the send time's rule.

When a schedule's draft needs approval, each address of ``[editor_emails]`` gets one email with
the draft's link (once per edition, however often the draft time fires: ``send_actions`` keeps
``approval-requested``). A draft nobody approved by the send time follows the schedule's
``if_unapproved`` rule:

- ``skip`` (the default, the behaviour before the rule existed): not sent, the reason written on
  the edition, ``digest health`` fails for the list until it is resolved;
- ``send``: sent unapproved, recorded as such (``send_actions``: ``send-unapproved`` by
  ``schedule:NAME``), the edition no longer waiting for anyone;
- ``wait``: the send waits up to ``unapproved_wait`` minutes for an editor's approval (checked
  every few seconds, cut short by a stop request), sends if one comes, else skips as above.
"""

from __future__ import annotations

import logging
import time
from threading import Event

from digest.config import Config
from digest.delivery.notice import send_notice
from digest.errors import DigestError
from digest.i18n import translations
from digest.store.editions import StoredEdition, get_edition
from digest.store.schedules import Schedule
from digest.store.sendactions import list_actions, record_action, waive_approval

log = logging.getLogger("digest.scheduler")

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


def notify_editors(
    config: Config, db, schedule: Schedule, stored: StoredEdition, make_backend
) -> int:
    """Mail each editor of ``[editor_emails]`` that the draft waits; returns how many were
    mailed. A failure is logged, never fatal: the draft is stored whatever the mail does."""
    if not config.editor_emails:
        return 0
    if any(a.action == "approval-requested" for a in list_actions(db, stored.id)):
        return 0  # mailed at an earlier firing of the draft time
    link = f"{config.site.public_url}/editions/{stored.id}"
    # In the site's language: the editors' own is not known here (their pages follow their
    # browser's).
    t = translations(config.site.locale)
    rule = {
        "send": t.gettext(
            "It is not sent until someone approves it; at the send time it goes out unapproved."
        ),
        "wait": t.gettext(
            "It is not sent until someone approves it, or %(minutes)s minutes after the send "
            "time it is skipped."
        )
        % {"minutes": schedule.unapproved_wait},
    }.get(
        schedule.if_unapproved,
        t.gettext("It is not sent until someone approves it; at the send time it is skipped."),
    )
    lines = [
        t.gettext("The %(list)s edition %(edition)s waits for an editor's approval.")
        % {"list": stored.list_name, "edition": stored.id},
        t.gettext("Subject: %(subject)s") % {"subject": stored.edition.subject},
        rule,
    ]
    mailed = []
    for name, address in sorted(config.editor_emails.items()):
        try:
            send_notice(
                config,
                make_backend(),
                to=address,
                subject=t.gettext("Waiting for approval: %(subject)s")
                % {"subject": stored.edition.subject},
                lines=lines,
                link=link,
                locale=config.site.locale,
                what="the approval notice",
            )
            mailed.append(name)
        except DigestError as exc:
            log.warning("approval notice to editor %s not sent: %s", name, exc)
    if mailed:
        record_action(
            db,
            stored.id,
            "approval-requested",
            actor=f"schedule:{schedule.name}",
            detail="mailed " + ", ".join(mailed),
        )
    return len(mailed)
