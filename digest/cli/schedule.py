"""schedule add|list|pause|resume|remove|run, scheduler (approve, editions, health: history.py)."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from digest.cli.app import cli
from digest.cli.common import (
    EXIT_FAILED,
    err,
    now_or_clock,
    open_db,
    out,
    parse_now,
    signer_for,
    styled,
    with_config,
)
from digest.cli.language import gettext as _
from digest.config import Config
from digest.i18n import N_


def _out_option(fn):
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=N_("Outbox folder for the outbox backend (default: outbox/ beside the database)."),
    )(fn)


def _outbox(config: Config, out_dir: Path | None) -> Path:
    return out_dir or config.state_dir / "outbox"


@cli.group(help=N_("Daily editions per list: add, list, pause, resume, remove, run now."))
def schedule():
    pass


@schedule.command(
    "add",
    help=N_("Add a schedule. A running scheduler picks it up within seconds; none needs to run."),
)
@with_config
@click.argument("name")
@click.option("--list", "list_name", required=True, metavar="NAME", help=N_("Subscriber list."))
@click.option(
    "--cron",
    required=True,
    metavar='"M H DOM MON DOW"',
    help=N_('Send time, five crontab fields, wall-clock in --tz (e.g. "0 7 * * *").'),
)
@click.option("--tz", "tz", metavar="ZONE", help=N_("IANA time zone (default: the site's)."))
@click.option("--draft-at", metavar="HH:MM", help=N_("Build the draft at this time the same day."))
@click.option(
    "--approval",
    type=click.Choice(["auto", "required"]),
    default="auto",
    show_default=True,
    help=N_("required: not sent unless an editor approved the draft."),
)
@click.option(
    "--if-unapproved",
    type=click.Choice(["skip", "send", "wait"]),
    default="skip",
    show_default=True,
    help=N_(
        "With --approval required, a draft nobody approved by the send time: skip the "
        "day, send it unapproved (recorded as such), or wait --wait-minutes for an "
        "approval, then skip."
    ),
)
@click.option(
    "--wait-minutes",
    type=click.IntRange(1, 720),
    metavar="N",
    help=N_("With --if-unapproved wait: how long the send waits for an approval."),
)
@click.option(
    "--if-nothing-new",
    type=click.Choice(["skip", "send"]),
    default="skip",
    show_default=True,
    help=N_("Skip the day when no story is new since the last editions."),
)
@click.option(
    "--min-stories",
    type=int,
    default=1,
    show_default=True,
    help=N_("Skip the day with fewer new stories than this."),
)
@click.option(
    "--backend",
    type=click.Choice(["outbox", "smtp", "sendgrid"]),
    default="outbox",
    show_default=True,
)
@click.option(
    "--local-time",
    is_flag=True,
    help=N_(
        "Send at the cron's time in each reader's own zone (their timezone, else the "
        "site's): one edition, built before the earliest zone."
    ),
)
@click.option(
    "--deadline",
    metavar="HH:MM",
    help=N_(
        "When each send should be done (same local time as the send): warns when the "
        "estimate is later; 'digest health' reports a miss."
    ),
)
@click.option("--replace", is_flag=True, help=N_("Change an existing schedule of that name."))
def schedule_add(
    config: Config,
    name,
    list_name,
    cron,
    tz,
    draft_at,
    approval,
    if_unapproved,
    wait_minutes,
    if_nothing_new,
    min_stories,
    backend,
    local_time,
    deadline,
    replace,
):
    from digest.schedule.triggers import next_times, validate
    from digest.store.schedules import Schedule, add_schedule

    if (if_unapproved == "wait") != (wait_minutes is not None):
        raise click.UsageError(_("--wait-minutes goes with --if-unapproved wait, and it needs it"))
    s = Schedule(
        name=name,
        list_name=list_name,
        cron=cron,
        timezone=tz or config.site.timezone,
        draft_at=draft_at,
        approval=approval,
        if_unapproved=if_unapproved,
        unapproved_wait=wait_minutes,
        if_nothing_new=if_nothing_new,
        min_stories=min_stories,
        backend=backend,
        local_time=local_time,
        deadline=deadline,
    )
    validate(s)
    db = open_db(config)
    add_schedule(db, s, replace=replace)
    from digest.store.subscribers import lists

    if list_name not in config.lists and list_name not in {info[0] for info in lists(db)}:
        err.print(
            styled(
                (_("warning:"), "yellow"),
                " ",
                _(
                    "there is no list %(quoted)s yet: import subscribers with 'digest "
                    "subscribers import CSV --list %(list)s' before the first send"
                )
                % {"quoted": repr(list_name), "list": list_name},
            )
        )
    draft, send = next_times(s, datetime.now(UTC))
    out.print(
        _("schedule %(name)s: list %(list)s, next send %(send)s")
        % {"name": name, "list": list_name, "send": _both(send)}
        + (", " + _("draft %(draft)s") % {"draft": _both(draft)} if draft else "")
    )


@schedule.command("list", help=N_("Schedules with their next draft and send times, local and UTC."))
@with_config
@click.option("--now", callback=parse_now, metavar="ISO8601", hidden=True)
def schedule_list(config: Config, now):
    from digest.schedule.triggers import next_times
    from digest.store.schedules import list_schedules

    now = now_or_clock(now)
    # Plain lines rather than a table: the times stay whole in any terminal width and in grep.
    schedules = list_schedules(open_db(config))
    if not schedules:
        out.print(_("no schedules ('digest schedule add' adds one)"))
    for s in schedules:
        draft, send = next_times(s, now)
        out.print(
            styled(
                (s.name, "bold"),
                "  "
                + _('list %(list)s, cron "%(cron)s" %(zone)s, approval %(approval)s')
                % {
                    "list": s.list_name,
                    "cron": s.cron,
                    "zone": s.timezone,
                    "approval": s.approval,
                }
                + (
                    " ("
                    + _("if unapproved: %(choice)s") % {"choice": s.if_unapproved}
                    + (" " + _("%(n)s min") % {"n": s.unapproved_wait} if s.unapproved_wait else "")
                    + ")"
                    if s.approval == "required"
                    else ""
                )
                + ", "
                + _("if nothing new %(choice)s (min %(n)s)")
                % {"choice": s.if_nothing_new, "n": s.min_stories}
                + f", {s.backend}, "
                + (_("PAUSED") if s.paused else _("active"))
                + (", " + _("in each reader's local time") if s.local_time else "")
                + (", " + _("deadline %(time)s") % {"time": s.deadline} if s.deadline else ""),
            )
        )
        if draft:
            out.print("  " + _("next draft %(when)s") % {"when": _both(draft)})
        out.print("  " + _("next send  %(when)s") % {"when": _both(send)})
        if s.last_run_at:
            out.print(
                "  "
                + _("last run   %(when)s UTC: %(status)s")
                % {"when": f"{s.last_run_at:%Y-%m-%d %H:%M}", "status": s.last_status}
                + (f" ({s.last_reason})" if s.last_reason else "")
            )


def _both(when: datetime) -> str:
    """Local and UTC. Through UTC first, so the local time shown is one that exists (a wall time
    in a spring-forward gap would print as itself, an hour away from the instant it means)."""
    local = when.astimezone(UTC).astimezone(when.tzinfo)
    return f"{local:%Y-%m-%d %H:%M %Z} ({when.astimezone(UTC):%H:%M} UTC)"


@schedule.command("pause", help=N_("Stop a schedule firing (its history stays)."))
@with_config
@click.argument("name")
def schedule_pause(config: Config, name):
    from digest.store.schedules import set_paused

    set_paused(open_db(config), name, True)
    out.print(_("schedule %(name)s paused") % {"name": name})


@schedule.command("resume", help=N_("Let a paused schedule fire again from its next time."))
@with_config
@click.argument("name")
def schedule_resume(config: Config, name):
    from digest.store.schedules import set_paused

    set_paused(open_db(config), name, False)
    out.print(_("schedule %(name)s resumed") % {"name": name})


@schedule.command(
    "remove", help=N_("Delete a schedule (editions already sent stay in the history).")
)
@with_config
@click.argument("name")
def schedule_remove(config: Config, name):
    from digest.store.schedules import remove_schedule

    remove_schedule(open_db(config), name)
    out.print(_("schedule %(name)s removed") % {"name": name})


@schedule.command(
    "run",
    help=N_("Run a schedule's send now: build (or reuse) today's edition, then send or skip it."),
)
@with_config
@click.argument("name")
@click.option(
    "--now",
    callback=parse_now,
    metavar="ISO8601",
    help=N_("The edition's reference time (default: the clock)."),
)
@_out_option
def schedule_run(config: Config, name, now, out_dir):
    from threading import Event

    from digest.cli.report import stop_on_signals
    from digest.schedule.runs import run_send
    from digest.store.schedules import get_schedule

    db = open_db(config)
    s = get_schedule(db, name)
    stop = Event()
    with stop_on_signals(stop):
        result = run_send(
            config,
            db,
            s,
            now_or_clock(now),
            out_dir=_outbox(config, out_dir),
            signer=signer_for(config),
            stop=stop,
        )
    out.print(
        f"{result.edition_id or name}: {result.status}"
        + (f" ({result.reason})" if result.reason else "")
    )
    if result.counts:
        out.print("  " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    if result.status in ("failed", "not-approved", "paused", "interrupted"):
        sys.exit(EXIT_FAILED)


@cli.command(
    help=N_(
        "Run the schedules in the foreground until SIGTERM or Ctrl-C.\n\nOnly one "
        "scheduler may run per database: a second one is refused. On SIGTERM the batch "
        "in flight finishes and is recorded; the edition stays resumable."
    )
)
@with_config
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=lambda: os.environ.get("DIGEST_LOG_FORMAT", "text"),
    help=N_("Log lines as text or JSON (env DIGEST_LOG_FORMAT)."),
)
@_out_option
def scheduler(config: Config, log_format, out_dir):
    from threading import Event

    from digest.logs import setup_logging
    from digest.schedule.scheduler import Runner

    setup_logging(log_format)
    stop = Event()

    def handler(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    runner = Runner(
        config,
        open_db(config),
        out_dir=_outbox(config, out_dir),
        signer=signer_for(config),
        stop=stop,
    )
    runner.start()
    out.print(
        _("scheduler running (%(owner)s); SIGTERM or Ctrl-C stops it") % {"owner": runner.owner}
    )
    runner.run()
