"""Thin commands: load the config, call one library function, print the result.

User mistakes (bad config, unknown list, broken CSV, every source down) end as one sentence on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
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
              show_default=True, help="Where messages go.")
@edition_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outbox"), show_default=True,
              help="Folder for the edition files and, with the outbox backend, one .eml per "
              "recipient.")
@click.option("--dry-run", is_flag=True,
              help="Build and count who would receive it; send nothing.")
def send(config: Config, list_name, backend, now, sources, out_dir, dry_run):
    """Build the edition and deliver it to every active subscriber of a list."""
    from digest.delivery.outbox import OutboxBackend
    from digest.send import make_job, send_edition
    from digest.store.db import open_database

    if backend != "outbox":
        raise DigestError(f"the {backend} backend is not available in this version; use outbox")
    built = _build(config, list_name, now, sources, out_dir)
    _print_build(built)
    db = open_database(config.database_url)
    signer = _signer(config)
    job = make_job(config, built.edition, built.rendered)
    with _progress(f"sending {built.edition.id}") as bar:
        task = bar.add_task("send", total=None)
        report = send_edition(
            config, db, job, OutboxBackend(out_dir), signer=signer, dry_run=dry_run,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    table = Table(title=f"{'dry run: ' if dry_run else ''}{report.edition_id} via {report.backend}")
    for col in ("active", "sent", "skipped", "failed", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(str(report.total), str(report.sent), str(report.skipped), str(report.failed),
                  f"{report.seconds:.2f}")
    out.print(table)
    if dry_run:
        out.print(f"would send to {report.total} subscribers of '{list_name}' "
                  f"({report.skipped} unsubscribed or suppressed)")
    else:
        out.print(f"messages in {report.destination}")
    for failure in report.failures[:10]:
        err.print(f"[red]failed[/] subscriber {failure.subscriber_id}: {failure.detail}")
    if report.failed:
        sys.exit(EXIT_FAILED)


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
    from digest.sources.fetch import Fetcher
    from digest.store.db import open_database
    from digest.store.feeds import SqlFeedCache

    overrides = [source_from_location(s) for s in sources] or None
    cache = SqlFeedCache(open_database(config.database_url))
    fetcher = Fetcher(user_agent=config.user_agent, cache=cache)
    with err.status("reading sources and rendering"):
        built = build_edition(config, list_name=list_name, now=now, sources=overrides,
                              out_dir=out_dir, fetcher=fetcher)
    for warning in built.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    return built


def _print_build(built) -> None:
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
