"""`digest init DIR`: a starter site, so an installed wheel gives a first digest without the
repository. The files are the ones the wheel carries (digest.resources), written with the
repository's own layout, so the starter digest.toml is the repository's, unchanged."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import click

from digest.cli.app import cli
from digest.cli.common import EXIT_USAGE
from digest.cli.language import gettext as _
from digest.errors import DigestError
from digest.i18n import N_
from digest.resources import STARTER_FILES, TEMPLATES, data_root

SAMPLE_NOW = "2025-07-01T08:00:00+01:00"  # the morning samples/homepage-fr.txt was captured


class _NotEmpty(click.ClickException):
    exit_code = EXIT_USAGE  # the folder given is the problem, as with a bad argument


@cli.command(
    help=N_(
        "Write a starter site in DIRECTORY: an annotated digest.toml, a copy of the "
        "email templates to customize, a sample homepage (the configured source) and "
        "example subscribers."
    )
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help=N_("Write into a folder that is not empty, replacing files of the same name."),
)
def init(directory: Path, force: bool):
    if not force and _has_files(directory):
        raise _NotEmpty(
            _(
                "%(folder)s is not empty: choose a new folder, or add --force to write the "
                "starter files over what is there"
            )
            % {"folder": directory}
        )
    write_starter_site(directory)
    here = shlex.quote(str(directory))
    # Plain echo, not rich: a path is not markup, and the commands must not be wrapped.
    click.echo(_("Wrote a starter site in %(folder)s:") % {"folder": directory})
    click.echo(
        "  digest.toml   "
        + _("the settings (site, sender, lists, sources), annotated")
        + "\n  templates/    "
        + _("the email templates, yours to change")
        + "\n  samples/      "
        + _("a sample homepage, the configured source")
        + "\n  subscribers/  "
        + _("an example subscriber list and the CSV format")
    )
    click.echo(_("Next:"))
    click.echo(
        f"  cd {here}\n"
        f"  digest build --now {SAMPLE_NOW}   # " + _("writes out/edition.html") + "\n"
        "  digest subscribers import subscribers/matinale-example.csv --list matinale\n"
        f"  digest send --list matinale --backend outbox --now {SAMPLE_NOW}"
    )


def _has_files(directory: Path) -> bool:
    try:
        return directory.exists() and any(directory.iterdir())
    except OSError as exc:
        raise DigestError(
            _("cannot read %(folder)s: %(reason)s")
            % {"folder": directory, "reason": exc.strerror or exc}
        ) from None


def write_starter_site(directory: Path) -> None:
    root = data_root()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            root / TEMPLATES,
            directory / TEMPLATES,
            dirs_exist_ok=True,
            copy_function=shutil.copyfile,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for name in STARTER_FILES:
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / name, directory / name)
    except OSError as exc:
        raise DigestError(
            _("cannot write the starter site in %(folder)s: %(reason)s")
            % {"folder": directory, "reason": exc.strerror or exc}
        ) from None
