"""One scheduled edition: a draft at the draft time, a send (or a reasoned skip) at the send time.

Rules (operators rely on them; the README repeats them):

- One edition per list and local day (its id is <list>-YYYY-MM-DD). A second firing the same
  day -- a DST repeat, a manual ``schedule run``, a restart -- finds the edition stored and either
  resumes it or does nothing: nobody gets the same edition twice (the send ledger).
- Draft time: the edition is built and stored; with ``approval = required`` it waits for an
  editor (web app, or ``digest approve``). Editing it later withdraws the approval.
- Send time: no draft yet -> build now. Then, for an edition nobody has started sending:
  * "nothing new": every story was carried by one of the list's last NOVELTY_LOOKBACK editions
    that went out, or fewer than ``min_stories`` new ones -> skipped with the reason
    (``if_nothing_new = skip``, the default). With ``send``, ``min_stories`` counts all stories.
    An edition is never empty: a build with no story fails instead (and health says so).
  * approval required and not approved -> the schedule's ``if_unapproved`` rule
    (digest/schedule/approval.py): ``send`` sends it unapproved, recorded as such; ``wait``
    waits up to N minutes for an approval; ``skip`` (the default) and a wait in vain: NOT sent. Logged at WARNING, the reason written on the
    edition, and ``digest health`` fails for the list until it is resolved. Nobody approves: the
    edition stays unsent; an editor may still approve it and ``digest schedule run NAME`` sends it
    late the same day; the next day's edition is built independently, and the unsent one's
    stories still count as new then (nobody received them).
  * otherwise it is sent through the schedule's backend; a stop request finishes the batch in
    flight and leaves it paused and resumable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from threading import Event

from digest.config import Config
from digest.delivery.deadline import deadline_at
from digest.edition.build import edition_for_send, reference_time
from digest.edition.collect import story_keys
from digest.errors import ConfigError, DigestError
from digest.models import edition_from_dict
from digest.schedule.approval import notify_editors, settle_unapproved
from digest.schedule.localtime import local_moment
from digest.schedule.triggers import zone
from digest.store.editions import (
    AlreadySent,
    EditionBusy,
    NotApproved,
    StoredEdition,
    get_edition,
    skip_edition,
)
from digest.store.schedules import (
    Schedule,
    note_edition_reason,
    previous_editions,
    record_run,
)

log = logging.getLogger("digest.scheduler")

NOVELTY_LOOKBACK = 7  # editions: a story older than a week of editions is outside any window
RESUME_WITHIN = timedelta(hours=3)  # a morning digest finished by 10:00 is still worth it


@dataclass(frozen=True)
class RunResult:
    status: str  # drafted | sent | skipped | not-approved | paused | interrupted | failed | done
    reason: str | None = None
    edition_id: str | None = None
    counts: dict | None = None


def run_draft(
    config: Config,
    db,
    schedule: Schedule,
    now: datetime,
    *,
    out_dir: Path | None = None,
    backend=None,
) -> RunResult:
    """Build and store the day's edition (needing approval per the schedule); idempotent.
    A draft that waits is mailed to the editors (through ``backend``, else the schedule's)."""
    ctx = {"event": "draft", "list": schedule.list_name, "schedule": schedule.name}
    if schedule.local_time:  # the readers' day, built once at the earliest zone's draft time
        moment = local_moment(config, db, schedule, now, draft=True)
        if moment is None:
            return RunResult("done", "no reader's draft time has come")
        now = moment.reference
    try:
        stored, built = _stored_or_built(config, db, schedule, now)
    except DigestError as exc:
        log.error("draft of %s failed: %s", schedule.name, exc, extra={**ctx, "reason": str(exc)})
        return RunResult("failed", str(exc))
    new, total = novelty(db, stored)
    waiting = stored.needs_approval and stored.approved_at is None
    log.info(
        "draft %s %s: %d stories, %d new%s",
        stored.id,
        "stored" if built else "was stored already",
        total,
        new,
        "; waiting for an editor's approval" if waiting else "",
        extra={**ctx, "edition": stored.id, "counts": {"stories": total, "new": new}},
    )
    if waiting:

        def make():
            from digest.delivery import make_backend

            where = out_dir or config.state_dir / "outbox"
            return backend or make_backend(schedule.backend, config, out_dir=where)

        notify_editors(config, db, schedule, stored, make)
    return RunResult("drafted", edition_id=stored.id, counts={"stories": total, "new": new})


def run_send(
    config: Config,
    db,
    schedule: Schedule,
    now: datetime,
    *,
    out_dir: Path,
    signer,
    stop: Event | None = None,
    backend=None,
) -> RunResult:
    """The send-time run of a schedule; records its outcome for ``digest health``."""
    ref, zones, deadline = now, None, None
    if schedule.local_time:  # this moment's zones only (localtime.py)
        moment = local_moment(config, db, schedule, now)
        if moment is None:
            return RunResult("done", "no reader's local time has come")
        ref, zones, deadline = moment.reference, moment.zones, moment.deadline
    elif schedule.deadline:
        tz = zone(schedule.timezone)
        deadline = deadline_at(schedule.deadline, day=now.astimezone(tz).date(), tz=tz)
    result = _send(
        config,
        db,
        schedule,
        ref,
        out_dir=out_dir,
        signer=signer,
        stop=stop,
        backend=backend,
        zones=zones,
        deadline=deadline,
    )
    record_run(
        db,
        schedule.name,
        at=reference_time(config, now),
        status=result.status,
        reason=result.reason,
        edition_id=result.edition_id,
    )
    return result


def _send(
    config, db, schedule, now, *, out_dir, signer, stop, backend, zones=None, deadline=None
) -> RunResult:
    ctx = {"event": "send", "list": schedule.list_name, "schedule": schedule.name}
    try:
        stored, _ = _stored_or_built(config, db, schedule, now)
    except DigestError as exc:
        log.error("no edition for %s: %s", schedule.name, exc, extra={**ctx, "reason": str(exc)})
        return RunResult("failed", f"build failed: {exc}")
    ctx["edition"] = stored.id
    if stored.status in ("sent", "skipped", "cancelled"):  # cancelled: for good (digest cancel)
        log.info("%s was %s already; nothing to do", stored.id, stored.status, extra=ctx)
        return RunResult("done", f"{stored.status} already", stored.id)

    if stored.status == "ready":  # a paused or interrupted send resumes without second thoughts
        new, total = novelty(db, stored)
        counts = {"stories": total, "new": new}
        reason = _why_skip(schedule, new, total)
        if reason:
            skip_edition(db, stored.id, reason=reason)
            log.info(
                "skipped %s: %s",
                stored.id,
                reason,
                extra={**ctx, "counts": counts, "reason": reason},
            )
            return RunResult("skipped", reason, stored.id, counts)

    if (
        stored.needs_approval
        and stored.approved_at is None
        and settle_unapproved(db, schedule, stored.id, stop=stop)
    ):
        stored = get_edition(db, stored.id) or stored  # approved meanwhile, or sent unapproved
    if stored.needs_approval and stored.approved_at is None:
        reason = (
            f"not sent: waiting for an editor's approval at the send time "
            f"({reference_time(config, now):%Y-%m-%d %H:%M %Z})"
        )
        note_edition_reason(db, stored.id, reason)
        log.warning(
            "%s %s; approve it ('digest approve %s') and run 'digest schedule run %s' "
            "to send it late",
            stored.id,
            reason,
            stored.id,
            schedule.name,
            extra={**ctx, "reason": reason},
        )
        return RunResult("not-approved", reason, stored.id)

    from digest.delivery import make_backend
    from digest.delivery.loop import deliver

    try:
        report = deliver(
            config,
            db,
            stored,
            backend or make_backend(schedule.backend, config, out_dir=out_dir),
            signer=signer,
            stop=stop,
            zones=zones,
            deadline=deadline,
        )
    except NotApproved as exc:  # approval withdrawn by an edit between our read and the claim
        return RunResult("not-approved", str(exc), stored.id)
    except (AlreadySent, EditionBusy) as exc:
        log.info("%s: %s", stored.id, exc, extra=ctx)
        return RunResult("done", str(exc), stored.id)
    except (DigestError, ConfigError) as exc:  # ConfigError: e.g. no SENDGRID_API_KEY
        log.error("sending %s failed: %s", stored.id, exc, extra={**ctx, "reason": str(exc)})
        return RunResult("failed", str(exc), stored.id)
    counts = {
        "sent": report.sent,
        "failed": report.failed,
        "unknown": report.unknown,
        "skipped": report.skipped,
        "pending": report.pending,
    }
    level = logging.INFO if report.status == "sent" else logging.WARNING
    log.log(
        level,
        "%s %s: %d sent, %d failed, %d unknown in %.1f s%s",
        stored.id,
        report.status,
        report.sent,
        report.failed,
        report.unknown,
        report.seconds,
        f" ({report.reason})" if report.reason else "",
        extra={**ctx, "counts": counts, "reason": report.reason},
    )
    return RunResult(report.status, report.reason, stored.id, counts)


def run_resume(
    config: Config,
    db,
    schedule: Schedule,
    now: datetime,
    *,
    out_dir: Path,
    signer,
    stop: Event | None = None,
    backend=None,
) -> RunResult:
    """At scheduler start: finish the send a SIGTERM (a restart, a deploy) interrupted.

    Only an edition this schedule left 'interrupted' and still paused, and only within
    RESUME_WITHIN of its send time: later than that, the news is stale and a person decides
    (``digest send`` or ``schedule run`` resumes it; health reports it paused meanwhile).
    """
    if schedule.last_status != "interrupted" or not schedule.last_edition_id:
        return RunResult("done", "nothing to resume")
    stored = get_edition(db, schedule.last_edition_id)
    if stored is None or stored.status != "paused":
        return RunResult("done", "nothing to resume", schedule.last_edition_id)
    ctx = {
        "event": "resume",
        "list": schedule.list_name,
        "schedule": schedule.name,
        "edition": stored.id,
    }
    late = reference_time(config, now) - stored.edition.reference_time
    if late > RESUME_WITHIN:
        log.warning(
            "%s was interrupted %s ago: not resumed automatically (resume it with "
            "'digest schedule run %s' if it is still wanted)",
            stored.id,
            str(late).split(".")[0],
            schedule.name,
            extra=ctx,
        )
        return RunResult("done", "too late to resume", stored.id)
    log.info("resuming %s, interrupted by a stop", stored.id, extra=ctx)
    return run_send(
        config,
        db,
        schedule,
        stored.edition.reference_time,
        out_dir=out_dir,
        signer=signer,
        stop=stop,
        backend=backend,
    )


def novelty(db, stored: StoredEdition) -> tuple[int, int]:
    """(new stories, all stories): new = carried by none of the list's recent editions that went
    out. Identity is collect's dedupe key: canonical link, else normalized title."""
    seen: set[str] = set()
    for data in previous_editions(db, stored.list_name, before=stored.id, limit=NOVELTY_LOOKBACK):
        earlier = edition_from_dict(data)
        for story in (*earlier.featured, *earlier.ticker):
            seen.update(story_keys(story))
    stories = (*stored.edition.featured, *stored.edition.ticker)
    new = sum(1 for s in stories if not seen.intersection(story_keys(s)))
    return new, len(stories)


def _why_skip(schedule: Schedule, new: int, total: int) -> str | None:
    if schedule.if_nothing_new == "send":
        if total < schedule.min_stories:
            return f"only {total} stories (the schedule's minimum is {schedule.min_stories})"
        return None
    if new == 0:
        return f"nothing new: all {total} stories were in an earlier edition of this list"
    if new < schedule.min_stories:
        return (
            f"only {new} new stories of {total} (the schedule's minimum is {schedule.min_stories})"
        )
    return None


def _stored_or_built(config: Config, db, schedule: Schedule, now: datetime):
    """The stored edition of the list and local day, built (and stored) first if there is none."""
    stored, built = edition_for_send(
        config,
        db,
        list_name=schedule.list_name,
        now=now,
        needs_approval=schedule.approval == "required",
    )
    return stored, built is not None


# -- health: what a monitor asks every few minutes ------------------------------------------
