"""subscribers import, list, export, unsubscribe."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from digest.cli.app import cli
from digest.cli.common import err, out, styled, utf8_note, with_config
from digest.cli.language import gettext as _
from digest.config import Config
from digest.i18n import N_


@cli.group(help=N_("Import, list, export and unsubscribe subscribers."))
def subscribers():
    pass


@subscribers.command(
    "import",
    help=N_(
        "Import a CSV (email, name, locale; comma or semicolon), a listmonk export or a "
        "Mailchimp audience export (the ZIP itself) into a list.\n\nBad rows are reported "
        "with their line number; good rows are imported. Importing the same file again "
        "changes nothing, and never resubscribes someone who unsubscribed."
    ),
)
@with_config
@click.argument(
    "csv_path", metavar="CSV", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--list", "list_name", required=True, metavar="NAME", help=N_("List to import into."))
def subscribers_import(config: Config, csv_path, list_name):
    from digest.store.csvio import open_subscriber_files
    from digest.store.db import open_database
    from digest.store.subscribers import import_subscribers

    files = open_subscriber_files(csv_path)  # read while importing, never held whole
    report = import_subscribers(
        open_database(config.database_url),
        list_name,
        files,
        title=config.list_config(list_name).title,
    )
    for recognized in report.formats:
        err.print(styled((_("format:"), "cyan"), f" {recognized}"))
    for note in report.notes:
        err.print(styled((_("note:"), "yellow"), f" {note}"))
    for item in report.rejected:
        err.print(styled((f"{_where(item)}:", "yellow"), f" {item.reason}"))
    if report.total_rejected > len(report.rejected):
        err.print(
            styled(
                (
                    _("... and %(n)s more rejected rows")
                    % {"n": report.total_rejected - len(report.rejected)},
                    "yellow",
                )
            )
        )
    for item in report.warnings:
        err.print(
            styled(
                (_("%(where)s (imported):") % {"where": _where(item)}, "yellow"), f" {item.reason}"
            )
        )
    if report.utf8_local:
        err.print(styled((_("note:"), "yellow"), f" {utf8_note(report.utf8_local, config)}"))
    out.print(_import_summary(report, list_name))


def _where(item) -> str:
    if item.file:
        return _("%(file)s line %(line)s") % {"file": item.file, "line": item.line}
    return _("line %(line)s") % {"line": item.line}


@subscribers.command("list", help=N_("Show lists with counts, or the members of one list."))
@with_config
@click.option(
    "--list",
    "list_name",
    metavar="NAME",
    help=N_("Show the members of this list (default: all lists with counts)."),
)
def subscribers_list(config: Config, list_name):
    from digest.store.db import open_database
    from digest.store.subscribers import list_members, lists

    db = open_database(config.database_url)
    if not list_name:
        table = Table(_("list"), _("title"), _("active"))
        for name, title, active in lists(db):
            table.add_row(name, title, str(active))
        out.print(table)
        return
    table = Table(_("email"), _("name"), _("locale"), _("status"))
    for row in list_members(db, list_name):
        table.add_row(row.email, row.name or "", row.locale or "", row.status)
    out.print(table)


@subscribers.command("export", help=N_("Write a list as CSV (email, name, locale, status)."))
@with_config
@click.option("--list", "list_name", required=True, metavar="NAME", help=N_("List to export."))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("Write to this file instead of stdout."),
)
def subscribers_export(config: Config, list_name, out_file):
    from digest.private_files import create_private_file
    from digest.store.db import open_database
    from digest.store.subscribers import export_subscribers

    db = open_database(config.database_url)
    if out_file:
        # Every address of the list: owner-only when this creates the file (an existing file
        # keeps the mode its owner gave it).
        created = create_private_file(out_file)
        try:
            count = export_subscribers(db, list_name, out_file)
        except BaseException:
            if created:  # e.g. no such list: leave no empty file behind
                out_file.unlink(missing_ok=True)
            raise
        err.print(_("wrote %(n)s subscribers to %(file)s") % {"n": count, "file": out_file})
    else:
        export_subscribers(db, list_name, sys.stdout)


@subscribers.command("unsubscribe", help=N_("Unsubscribe an address from one list or all of them."))
@with_config
@click.argument("email")
@click.option(
    "--list", "list_name", metavar="NAME", help=N_("Only this list (default: every list).")
)
def subscribers_unsubscribe(config: Config, email, list_name):
    from digest.store.db import open_database
    from digest.store.subscribers import unsubscribe

    changed = unsubscribe(open_database(config.database_url), email, list_name)
    where = _("list '%(list)s'") % {"list": list_name} if list_name else _("every list")
    if changed:
        out.print(
            _("unsubscribed %(email)s from %(where)s (%(n)s membership(s) changed)")
            % {"email": email, "where": where, "n": changed}
        )
    else:
        out.print(
            _("%(email)s was not subscribed to %(where)s; nothing changed")
            % {"email": email, "where": where}
        )


@cli.command(
    "erase",
    help=N_(
        "Erase EMAIL on request (GDPR, law 09-08): delete the person's data, keep only a "
        "hash of the address so it is never mailed or imported again. Cannot be undone."
    ),
)
@with_config
@click.argument("email")
@click.option("--yes", is_flag=True, help=N_("Do not ask for confirmation."))
def erase_command(config: Config, email, yes):
    from digest.cli.common import cli_actor
    from digest.store import audit
    from digest.store.db import open_database
    from digest.store.erasure import erase

    if not yes:
        click.confirm(_("Erase %(email)s for good?") % {"email": email}, abort=True, err=True)
    db = open_database(config.database_url)
    actor = cli_actor()
    done = erase(db, email, source=actor)
    target = f"subscriber:{done.subscriber_id}" if done.subscriber_id else None
    # The audit names the row, never the address.
    audit.record(db, actor, "subscriber-erase", target, f"{done.ledger_rows} ledger rows unlinked")
    if done.subscriber_id is None:
        out.print(_("no subscriber held this address; it is refused from now on (hash kept)"))
    else:
        out.print(
            _(
                "erased subscriber %(id)s (%(n)s ledger rows kept without them); only a hash "
                "of the address is kept"
            )
            % {"id": done.subscriber_id, "n": done.ledger_rows}
        )


def _import_summary(report, list_name: str) -> str:
    parts = [
        _("%(n)s added") % {"n": report.added},
        _("%(n)s updated") % {"n": report.updated},
        _("%(n)s unchanged") % {"n": report.unchanged},
    ]
    for attr, label in (
        ("merged", N_("%(n)s duplicates merged")),
        ("skipped_unsubscribed", N_("%(n)s kept unsubscribed")),
        ("skipped_suppressed", N_("%(n)s suppressed, not imported")),
        ("skipped_erased", N_("%(n)s erased on request, not imported")),
        ("opted_out", N_("%(n)s recorded as unsubscribed")),
        ("suppressed", N_("%(n)s recorded as suppressed")),
    ):
        value = getattr(report, attr, 0)
        if value:
            parts.append(_(label) % {"n": value})
    parts.append(_("%(n)s rejected") % {"n": report.total_rejected})
    return _("list '%(list)s': %(figures)s") % {"list": list_name, "figures": ", ".join(parts)}
