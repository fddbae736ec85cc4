"""build, send, cancel, pause: one edition from sources to subscribers (status: status.py)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from digest.cli.app import cli
from digest.cli.common import (
    EXIT_FAILED,
    cli_actor,
    edition_options,
    err,
    out,
    progress_bar,
    signer_for,
    styled,
    with_config,
)
from digest.cli.language import gettext as _
from digest.cli.report import print_build, print_report, stop_on_signals
from digest.config import Config, source_from_location
from digest.i18n import N_


@cli.command(help=N_("Gather the sources and write one rendered edition (JSON, HTML, text)."))
@with_config
@click.option(
    "--list",
    "list_name",
    metavar="NAME",
    help=N_("The list this edition is for (default: the first configured list)."),
)
@edition_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help=N_("Folder for edition.json, edition.html and edition.txt."),
)
def build(config: Config, list_name, now, sources, out_dir):
    from digest.edition.build import default_list

    built = _build(config, list_name or default_list(config), now, sources, out_dir)
    print_build(built)


@cli.command(
    help=N_(
        "Deliver today's edition to every active subscriber of a list.\n\nThe edition is "
        "built and stored on the first run of the day; running the same command again "
        "resumes it (after a crash, a pause or Ctrl-C) and never sends anyone the same "
        "edition twice."
    )
)
@with_config
@click.option("--list", "list_name", required=True, metavar="NAME", help=N_("Subscriber list."))
@click.option(
    "--backend",
    type=click.Choice(["outbox", "smtp", "sendgrid"]),
    default="outbox",
    show_default=True,
    help=N_(
        "Where messages go: .eml files, an SMTP relay, or SendGrid's v3 API (SENDGRID_API_KEY)."
    ),
)
@edition_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outbox"),
    show_default=True,
    help=N_("Folder for the edition files and, with the outbox backend, one .eml per recipient."),
)
@click.option(
    "--dry-run",
    is_flag=True,
    help=N_("Build the edition and count who would receive it; send and store nothing."),
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help=N_(
        "Also send to subscribers whose message may or may not have arrived (in flight "
        "when a run died, or its answer lost); it may reach them twice. Reopens an "
        "edition already sent."
    ),
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help=N_(
        "Put the failed deliveries back and send them (after fixing the cause of a "
        "refusal). Reopens an edition already sent."
    ),
)
@click.option(
    "--reason",
    metavar="TEXT",
    help=N_(
        "With --retry-failed: only failures whose reason contains TEXT (any case), e.g. "
        "553 or 'gave up'; 'digest status' lists the reasons."
    ),
)
@click.option(
    "--join",
    "join",
    is_flag=True,
    help=N_(
        "Share the edition with the senders already on it, each claiming its own batches "
        "(PostgreSQL only: SQLite has one sender per edition)."
    ),
)
@click.option(
    "--deadline",
    metavar="HH:MM",
    help=N_(
        "When the send should be done (the site's time, the edition's day): warns at the "
        "start when the estimated finish is later; 'digest health' reports a miss."
    ),
)
def send(
    config: Config,
    list_name,
    backend,
    now,
    sources,
    out_dir,
    dry_run,
    resend_unknown,
    retry_failed,
    reason,
    join,
    deadline,
):
    from threading import Event

    from digest.delivery import make_backend
    from digest.delivery.control import run_send
    from digest.edition.build import edition_for_send
    from digest.store import ledger
    from digest.store.db import open_database
    from digest.store.subscribers import count_members

    if reason and not retry_failed:
        raise click.UsageError(_("--reason goes with --retry-failed"))
    if deadline:
        from digest.delivery.deadline import DeadlineError, parse_hhmm

        try:
            parse_hhmm(deadline)  # a bad one is refused before anything is built
        except DeadlineError as exc:
            raise click.UsageError(str(exc)) from None
    db = open_database(config.database_url)
    with err.status(styled(_("reading sources and rendering"))):
        stored, built = edition_for_send(
            config,
            db,
            list_name=list_name,
            now=now,
            sources=[source_from_location(s) for s in sources] or None,
            out_dir=out_dir,
            store=not dry_run,
        )
    if built:
        print_build(built)
    if stored is None:  # a dry run before the day's first send: built, stored nowhere
        m = count_members(db, list_name)
        out.print(
            _(
                "dry run: would send to %(active)s subscribers of '%(list)s' "
                "(%(gone)s unsubscribed or suppressed) via %(backend)s; nothing was stored"
            )
            % _members(m, list_name, backend)
        )
        return
    if not built:
        out.print(styled((stored.id, "bold"), f"  {stored.edition.subject}"))
        out.print(
            "  "
            + _("stored %(when)s UTC, status %(status)s")
            % {"when": f"{stored.created_at:%Y-%m-%d %H:%M}", "status": stored.status}
            + (f" ({stored.reason})" if stored.reason else "")
            + ("; " + _("--source is ignored when resuming") if sources else "")
        )
    if stored.status in ("cancelled", "skipped"):
        out.print(
            _("edition %(edition)s was %(status)s; nothing to do")
            % {"edition": stored.id, "status": stored.status}
        )
        return
    if stored.status == "sent" and not (resend_unknown or retry_failed):
        out.print(_("edition %(edition)s was sent already; nothing to do") % {"edition": stored.id})
        return
    if dry_run:
        c = ledger.counts(db, stored.id)
        if sum(c.values()):
            out.print(
                _(
                    "dry run: %(todo)s still to send, %(sent)s sent, %(unknown)s unknown, "
                    "%(failed)s failed"
                )
                % {
                    "todo": c["pending"] + c["sending"],
                    "sent": c["sent"],
                    "unknown": c["unknown"],
                    "failed": c["failed"],
                }
            )
        else:
            m = count_members(db, list_name)
            out.print(
                _(
                    "dry run: would send to %(active)s subscribers of '%(list)s' "
                    "(%(gone)s unsubscribed or suppressed) via %(backend)s"
                )
                % _members(m, list_name, backend)
            )
        return

    due = None
    if deadline:
        from digest.delivery.deadline import deadline_at

        tz = config.site.tz
        due = deadline_at(deadline, day=stored.edition.reference_time.astimezone(tz).date(), tz=tz)
    stop = Event()
    report = None
    with (
        stop_on_signals(stop),
        progress_bar(_("sending %(edition)s") % {"edition": stored.id}) as bar,
        _nothing_to_do(),
    ):
        task = bar.add_task("send", total=None)
        report = run_send(
            config,
            db,
            stored,
            make_backend(backend, config, out_dir=out_dir),
            signer=signer_for(config),
            actor=cli_actor(),
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
            reason=reason,
            stop=stop,
            share=join,
            deadline=due,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if report is None:
        return
    print_report(report)
    for warning in report.warnings:
        err.print(_("warning:") + f" {warning}")
    if report.status != "sent":
        sys.exit(130 if report.status == "interrupted" else EXIT_FAILED)


@cli.command(
    help=N_(
        "Stop an edition for good: nobody else gets it, and no resume or schedule sends "
        "it.\n\nIts pending deliveries become 'cancelled'. A send running now stops after "
        "the batch in flight (recorded as usual)."
    )
)
@with_config
@click.argument("edition_id", metavar="EDITION")
@click.option("--reason", metavar="TEXT", help=N_("Why, kept with the edition (digest status)."))
def cancel(config: Config, edition_id, reason):
    from digest.delivery.control import cancel as cancel_send
    from digest.store.db import open_database

    db = open_database(config.database_url)
    done = cancel_send(db, edition_id, actor=cli_actor(), reason=reason)
    if done["already"]:
        out.print(_("edition %(edition)s was cancelled already") % {"edition": edition_id})
        return
    out.print(
        _("cancelled %(edition)s: %(n)s pending deliveries will not be sent")
        % {"edition": edition_id, "n": done["cancelled"]}
    )
    if done["in_flight"]:
        out.print(
            "  "
            + _("%(n)s in flight with the running sender, which stops after recording them")
            % {"n": done["in_flight"]}
        )


@cli.command(
    help=N_(
        "Pause a send in progress: every sender stops after its batch in flight, "
        "recorded as usual. The edition is left paused; 'digest send' (or the web app) "
        "resumes it."
    )
)
@with_config
@click.argument("edition_id", metavar="EDITION")
def pause(config: Config, edition_id):
    from digest.delivery.control import pause as pause_send
    from digest.store.db import open_database

    pause_send(open_database(config.database_url), edition_id, actor=cli_actor())
    out.print(
        _("pause asked for %(edition)s: its senders stop after the batch in flight")
        % {"edition": edition_id}
    )


def _build(config: Config, list_name: str, now, sources, out_dir: Path):
    from digest.edition.build import build_edition, cached_fetcher
    from digest.edition.variants import variant_locales
    from digest.store.db import open_database
    from digest.store.lists import reader_locales

    overrides = [source_from_location(s) for s in sources] or None
    db = open_database(config.database_url)
    # The variants a send would make: one per locale the list's readers use.
    locales = variant_locales(config, list_name, reader_locales(db, list_name))
    with (
        err.status(styled(_("reading sources and rendering"))),
        cached_fetcher(config, db) as fetcher,
    ):
        return build_edition(
            config,
            list_name=list_name,
            now=now,
            sources=overrides,
            out_dir=out_dir,
            fetcher=fetcher,
            locales=locales,
        )


@contextlib.contextmanager
def _nothing_to_do():
    """AlreadySent while claiming (e.g. --resend-unknown on a sent edition with nothing unknown,
    or another process finished it meanwhile) is a sentence and exit 0, not an error."""
    from digest.store.editions import AlreadySent

    try:
        yield
    except AlreadySent as exc:
        out.print(str(exc))


def _members(m: dict, list_name: str, backend: str) -> dict:
    """A dry run's figures for its sentence."""
    return {
        "active": m["active"],
        "list": list_name,
        "gone": m["unsubscribed"] + m["suppressed"],
        "backend": backend,
    }
