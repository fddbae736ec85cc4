"""Thin commands: load the config, call one library function, print the result.

User mistakes (bad config, unknown list, broken CSV, every source down) end as one sentence on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from digest.config import Config, load_config, source_from_location
from digest.errors import ConfigError, DigestError

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

EXIT_USAGE = 2  # bad config or arguments
EXIT_FAILED = 1  # the work could not be done


def main() -> None:
    try:
        cli.main(standalone_mode=False, prog_name="digest")
    except click.exceptions.Abort:
        err.print("[red]aborted[/]")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        err.print(f"[red]config error:[/] {exc}", markup=True)
        sys.exit(EXIT_USAGE)
    except DigestError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        sys.exit(130)


def with_config(fn):
    """Every command takes --config; it wins over the group's --config and DIGEST_CONFIG."""

    @click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        help="Config file (default: $DIGEST_CONFIG, else ./digest.toml).",
    )
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx, config_path, **kwargs):
        path = config_path or (ctx.obj or {}).get("config_path")
        return fn(load_config(path), **kwargs)

    return wrapper


def parse_now(ctx, param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not ISO 8601 (e.g. 2025-07-01T08:00:00+01:00)"
        ) from None


def edition_options(fn):
    fn = click.option(
        "--source", "sources", multiple=True, metavar="PATH|URL",
        help="Read this source instead of the configured ones (repeatable; kind detected).",
    )(fn)
    fn = click.option(
        "--now", callback=parse_now, metavar="ISO8601",
        help="The edition's reference time (default: the clock). A naive time is read in the "
        "site's time zone.",
    )(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $DIGEST_CONFIG, else ./digest.toml).")
@click.version_option(package_name="digest")
@click.pass_context
def cli(ctx, config_path):
    """Build a news site's morning digest and deliver it to subscriber lists."""
    ctx.obj = {"config_path": config_path}


@cli.command()
@with_config
@click.option("--list", "list_name", metavar="NAME",
              help="The list this edition is for (default: the first configured list).")
@edition_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True,
              help="Folder for edition.json, edition.html and edition.txt.")
def build(config: Config, list_name, now, sources, out_dir):
    """Gather the sources and write one rendered edition (JSON, HTML, text)."""
    from digest.build import default_list

    built = _build(config, list_name or default_list(config), now, sources, out_dir)
    _print_build(built)


@cli.command()
@with_config
@click.option("--list", "list_name", required=True, metavar="NAME", help="Subscriber list.")
@click.option("--backend", type=click.Choice(["outbox", "smtp", "sendgrid"]), default="outbox",
              show_default=True, help="Where messages go: .eml files, an SMTP relay, or "
              "SendGrid's v3 API (SENDGRID_API_KEY).")
@edition_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outbox"), show_default=True,
              help="Folder for the edition files and, with the outbox backend, one .eml per "
              "recipient.")
@click.option("--dry-run", is_flag=True,
              help="Build the edition and count who would receive it; send nothing.")
@click.option("--resend-unknown", is_flag=True,
              help="Also send to subscribers whose message was in flight when an earlier run "
              "died (it may reach them twice).")
def send(config: Config, list_name, backend, now, sources, out_dir, dry_run, resend_unknown):
    """Deliver today's edition to every active subscriber of a list.

    The edition is built and stored on the first run of the day; running the same command
    again resumes it (after a crash, a pause or Ctrl-C) and never sends anyone the same
    edition twice.
    """
    from threading import Event

    from digest.build import edition_for_send
    from digest.delivery import make_backend
    from digest.send import deliver
    from digest.store import ledger
    from digest.store.db import open_database
    from digest.store.subscribers import count_members

    db = open_database(config.database_url)
    stored, built = _with_fetcher(config, db, lambda fetcher: edition_for_send(
        config, db, list_name=list_name, now=now, sources=[source_from_location(s) for s in
                                                            sources] or None,
        out_dir=out_dir, fetcher=fetcher))
    if built:
        _print_build(built)
    else:
        out.print(f"[bold]{stored.id}[/]  {stored.edition.subject}")
        out.print(f"  stored {stored.created_at:%Y-%m-%d %H:%M} UTC, status {stored.status}"
                  + (f" ({stored.reason})" if stored.reason else "")
                  + ("; --source is ignored when resuming" if sources else ""))
    if stored.status == "sent":
        out.print(f"edition {stored.id} was sent already; nothing to do")
        return
    if dry_run:
        c = ledger.counts(db, stored.id)
        if sum(c.values()):
            out.print(f"dry run: {c['pending'] + c['sending']} still to send, {c['sent']} sent, "
                      f"{c['unknown']} unknown, {c['failed']} failed")
        else:
            m = count_members(db, list_name)
            out.print(f"dry run: would send to {m['active']} subscribers of '{list_name}' "
                      f"({m['unsubscribed'] + m['suppressed']} unsubscribed or suppressed) "
                      f"via {backend}")
        return

    stop = Event()
    with _stop_on_signals(stop), _progress(f"sending {stored.id}") as bar:
        task = bar.add_task("send", total=None)
        report = deliver(
            config, db, stored, make_backend(backend, config, out_dir=out_dir),
            signer=_signer(config), resend_unknown=resend_unknown, stop=stop,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _print_report(report)
    if report.status != "sent":
        sys.exit(130 if report.status == "interrupted" else EXIT_FAILED)


@cli.command()
@with_config
@click.argument("edition_id", metavar="EDITION")
def status(config: Config, edition_id):
    """Show an edition's ledger: sent, failed, skipped, unknown, pending."""
    from digest.store import ledger
    from digest.store.db import open_database
    from digest.store.editions import get_edition

    db = open_database(config.database_url)
    stored = get_edition(db, edition_id)
    if stored is None:
        raise DigestError(f"there is no edition {edition_id!r} (ids look like "
                          f"<list>-YYYY-MM-DD)")
    c = ledger.counts(db, edition_id)
    out.print(f"[bold]{stored.id}[/]  {stored.edition.subject}")
    out.print(f"  status {stored.status}" + (f": {stored.reason}" if stored.reason else "")
              + (f", backend {stored.backend}" if stored.backend else ""))
    table = Table(*(k for k in ("total", *c)))
    table.add_row(str(sum(c.values())), *(str(v) for v in c.values()))
    out.print(table)
    for address, reason in ledger.failures(db, edition_id, limit=10):
        out.print(f"  failed {address}: {reason}")


@cli.group()
def subscribers():
    """Import, list, export and unsubscribe subscribers."""


@subscribers.command("import")
@with_config
@click.argument("csv_path", metavar="CSV", type=click.Path(exists=True, dir_okay=False,
                                                            path_type=Path))
@click.option("--list", "list_name", required=True, metavar="NAME", help="List to import into.")
def subscribers_import(config: Config, csv_path, list_name):
    """Import a CSV (email, name, locale; comma or semicolon) into a list.

    Bad rows are reported with their line number; good rows are imported. Importing the same
    file again changes nothing, and never resubscribes someone who unsubscribed.
    """
    from digest.store.csvio import read_subscriber_csv
    from digest.store.db import open_database
    from digest.store.subscribers import import_subscribers

    parsed = read_subscriber_csv(csv_path)
    report = import_subscribers(open_database(config.database_url), list_name, parsed,
                                title=config.list_config(list_name).title)
    for note in report.notes:
        err.print(f"[yellow]note:[/] {note}")
    for rejected in report.rejected:
        err.print(f"[yellow]line {rejected.line}:[/] {rejected.reason}")
    out.print(_import_summary(report, list_name))


@subscribers.command("list")
@with_config
@click.option("--list", "list_name", metavar="NAME",
              help="Show the members of this list (default: all lists with counts).")
def subscribers_list(config: Config, list_name):
    """Show lists with counts, or the members of one list."""
    from digest.store.db import open_database
    from digest.store.subscribers import list_members, lists

    db = open_database(config.database_url)
    if not list_name:
        table = Table("list", "title", "active")
        for name, title, active in lists(db):
            table.add_row(name, title, str(active))
        out.print(table)
        return
    table = Table("email", "name", "locale", "status")
    for row in list_members(db, list_name):
        table.add_row(row.email, row.name or "", row.locale or "", row.status)
    out.print(table)


@subscribers.command("export")
@with_config
@click.option("--list", "list_name", required=True, metavar="NAME", help="List to export.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
def subscribers_export(config: Config, list_name, out_file):
    """Write a list as CSV (email, name, locale, status)."""
    from digest.store.db import open_database
    from digest.store.subscribers import export_subscribers

    db = open_database(config.database_url)
    if out_file:
        count = export_subscribers(db, list_name, out_file)
        err.print(f"wrote {count} subscribers to {out_file}")
    else:
        export_subscribers(db, list_name, sys.stdout)


@subscribers.command("unsubscribe")
@with_config
@click.argument("email")
@click.option("--list", "list_name", metavar="NAME",
              help="Only this list (default: every list).")
def subscribers_unsubscribe(config: Config, email, list_name):
    """Unsubscribe an address from one list or all of them."""
    from digest.store.db import open_database
    from digest.store.subscribers import unsubscribe

    changed = unsubscribe(open_database(config.database_url), email, list_name)
    where = f"list '{list_name}'" if list_name else "every list"
    if changed:
        out.print(f"unsubscribed {email} from {where} ({changed} membership(s) changed)")
    else:
        out.print(f"{email} was not subscribed to {where}; nothing changed")


# -- helpers -----------------------------------------------------------------------------------


def _build(config: Config, list_name: str, now, sources, out_dir: Path):
    from digest.build import build_edition
    from digest.store.db import open_database

    overrides = [source_from_location(s) for s in sources] or None
    return _with_fetcher(config, open_database(config.database_url), lambda fetcher: build_edition(
        config, list_name=list_name, now=now, sources=overrides, out_dir=out_dir,
        fetcher=fetcher))


def _with_fetcher(config: Config, db, work):
    """Run a build with a fetcher whose conditional-GET cache lives in the database."""
    from digest.sources.fetch import Fetcher
    from digest.store.feeds import SqlFeedCache

    with Fetcher(user_agent=config.user_agent, cache=SqlFeedCache(db)) as fetcher, \
            err.status("reading sources and rendering"):
        return work(fetcher)


@contextlib.contextmanager
def _stop_on_signals(stop):
    """Ctrl-C or SIGTERM: finish the batch in flight, record it, leave the edition resumable."""

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C means now
        stop.set()
        err.print("[yellow]stopping after the batch in flight...[/]")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _print_report(report) -> None:
    table = Table(title=f"{report.edition_id} via {report.backend}: {report.status}")
    for col in ("members", "sent", "skipped", "failed", "unknown", "pending", "requests",
                "seconds"):
        table.add_column(col, justify="right")
    table.add_row(*(str(v) for v in (report.total, report.sent, report.skipped, report.failed,
                                     report.unknown, report.pending, report.requests)),
                  f"{report.seconds:.2f}")
    out.print(table)
    if report.backend == "outbox":
        out.print(f"messages in {report.destination}")
    for address, reason in report.failures[:10]:
        err.print(f"[red]failed[/] {address}: {reason}")
    if report.newly_unknown:
        err.print(f"[yellow]{report.newly_unknown} message(s) were in flight when an earlier run "
                  "stopped: they may or may not have arrived, and were not sent again. Run "
                  "again with --resend-unknown to send them (some may arrive twice).[/]")
    if report.status != "sent":
        err.print(f"[yellow]paused:[/] {report.reason}. Run the same command again to resume; "
                  f"'digest status {report.edition_id}' shows the ledger.")


def _print_build(built) -> None:
    for warning in built.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    e = built.edition
    html_kb = len(built.rendered.html.encode("utf-8")) / 1024
    out.print(f"[bold]{e.id}[/]  {e.subject}")
    out.print(f"  {len(e.ticker)} headlines, {len(e.featured)} featured, "
              f"HTML {html_kb:.1f} KB, window {e.window_start:%Y-%m-%d %H:%M} -> "
              f"{e.reference_time:%Y-%m-%d %H:%M %z}")
    for src in e.sources:
        state = "[green]ok[/]" if src.ok else f"[red]failed[/] {src.error}"
        out.print(f"  source {src.name}: {len(src.stories)} stories {state}")
    for kind, path in built.paths.items():
        out.print(f"  {kind}: {path}")


def _signer(config: Config):
    from digest.tokens import TokenSigner, load_secret_key

    key = load_secret_key(config.secret_key, config.state_dir)
    if key.generated_at:
        err.print(
            f"[yellow]warning:[/] DIGEST_SECRET_KEY is not set; using the local key in "
            f"{key.generated_at}. Unsubscribe links stop working if that file is lost: set "
            "DIGEST_SECRET_KEY in production."
        )
    return TokenSigner(key.value)


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TimeRemainingColumn(), console=err, transient=True,
    )


class _RateColumn(TextColumn):
    def __init__(self):
        super().__init__("")

    def render(self, task):
        from rich.text import Text

        return Text(f"{task.speed:,.0f} msg/s" if task.speed else "")


def _import_summary(report, list_name: str) -> str:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.unchanged} unchanged"]
    for attr, label in (("merged", "duplicates merged"),
                        ("skipped_unsubscribed", "kept unsubscribed"),
                        ("skipped_suppressed", "suppressed, not imported")):
        value = getattr(report, attr, 0)
        if value:
            parts.append(f"{value} {label}")
    parts.append(f"{len(report.rejected)} rejected")
    return f"list '{list_name}': " + ", ".join(parts)


if __name__ == "__main__":
    main()
