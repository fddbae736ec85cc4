"""db current|upgrade|backup|copy: the schema's revision, upgrades, backups, moving data.

These are the only commands that open a database of any revision (check_schema=False): every
other one refuses a database that is not at this digest's head and points here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli.app import cli
from digest.cli.common import EXIT_FAILED, err, out, with_config
from digest.cli.language import gettext as _
from digest.config import Config
from digest.i18n import N_


def _open(url: str):
    from digest.store.db import open_database

    return open_database(url, check_schema=False)


@cli.group(
    "db", help=N_("The database: schema revision, upgrade, backup, copy to another database.")
)
def db_group():
    pass


@db_group.command(
    "current",
    help=N_("Say which schema revision the database is at, and whether it is this digest's."),
)
@with_config
def current(config: Config):
    from digest.store.revision import refusal, schema_status

    with _open(config.database_url) as db:
        status = schema_status(db.engine)
    out.print(_("revision: %(revision)s") % {"revision": status.current or _("none")})
    out.print(_("head:     %(revision)s") % {"revision": status.head})
    if status.up_to_date:
        out.print(_("up to date"))
    elif status.state == "empty":
        out.print(_("empty: the tables are created on first use (or by `digest db upgrade`)"))
    else:
        out.print(refusal(status))
        sys.exit(EXIT_FAILED)


@db_group.command(
    "upgrade",
    help=N_(
        "Apply the migrations this database lacks (a SQLite file is backed up beside it first)."
    ),
)
@with_config
def upgrade(config: Config):
    from digest.store.backup import backup_name, backup_sqlite, sqlite_file
    from digest.store.revision import schema_status, upgrade_schema

    with _open(config.database_url) as db:
        status = schema_status(db.engine)
        path = sqlite_file(db)
        if not status.up_to_date and status.state not in ("empty", "ahead") and path:
            copy = backup_sqlite(db, backup_name(path, status.current))
            err.print(_("backup: %(file)s") % {"file": copy})
        done = upgrade_schema(db)
    for repair in done.repaired:
        out.print(_("older schema: %(repair)s") % {"repair": repair})
    if done.before.up_to_date:
        out.print(_("already at %(revision)s (head): nothing to do") % {"revision": done.head})
    else:
        out.print(
            _("upgraded: %(before)s -> %(head)s")
            % {"before": done.before.current or _("none"), "head": done.head}
        )


@db_group.command(
    "backup", help=N_("Copy the SQLite database to FILE, safely while the scheduler runs.")
)
@with_config
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(config: Config, file: Path):
    from digest.store.backup import backup_sqlite

    with _open(config.database_url) as db:
        written = backup_sqlite(db, file)
    out.print(
        _("backup: %(file)s (%(size)s bytes)")
        % {"file": written, "size": f"{written.stat().st_size:,}"}
    )


@db_group.command(
    "copy",
    help=N_("Copy every table of the database into another, empty one (ids and statuses kept)."),
)
@with_config
@click.option(
    "--to",
    "to_url",
    required=True,
    metavar="URL",
    help=N_("The empty database to copy into (sqlite:///path or postgresql://...)."),
)
@click.option(
    "--batch-rows",
    type=click.IntRange(min=1),
    default=5_000,
    show_default=True,
    help=N_("Rows read and written per batch."),
)
def copy(config: Config, to_url: str, batch_rows: int):
    from digest.store.copy import copy_database

    with _open(config.database_url) as source, _open(to_url) as target:
        with err.status(_("copying")) as status:
            copied = copy_database(
                source,
                target,
                batch_rows=batch_rows,
                progress=lambda table, rows: status.update(
                    _("copying %(table)s: %(rows)s rows") % {"table": table, "rows": f"{rows:,}"}
                ),
            )
    for table, rows in copied.items():
        out.print(f"{table:<16} {rows:>9,}")
    out.print(
        _("copied %(rows)s rows to %(url)s")
        % {"rows": f"{sum(copied.values()):,}", "url": _hidden(to_url)}
    )


def _hidden(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - already opened above, so this cannot really fail
        return _("the target")
