"""The root command group ``cli`` and ``main``, which turns every user mistake into one sentence.

User mistakes (bad config, unknown list, broken CSV, every source down) end as one sentence on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import click

from digest.cli.common import EXIT_FAILED, EXIT_USAGE, err, styled
from digest.cli.helptext import TranslatedGroup
from digest.cli.language import gettext as _
from digest.cli.version import show_version
from digest.errors import ConfigError, DigestError
from digest.i18n import N_
from digest.logs import setup_logging


def main() -> None:
    # Warnings from the library reach stderr through the redacting handler, never raw; the
    # scheduler command replaces it with its own (INFO, text or JSON).
    setup_logging(level=logging.WARNING)
    try:
        cli.main(standalone_mode=False, prog_name="digest")
    except click.exceptions.Abort:
        err.print(styled((_("aborted"), "red")))
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        err.print(styled((_("config error:"), "red"), f" {exc}"), soft_wrap=True)
        sys.exit(EXIT_USAGE)
    except DigestError as exc:
        from digest.store.revision import SchemaRevisionError

        err.print(styled((_("error:"), "red"), f" {exc}"), soft_wrap=True)
        # A database at another schema revision needs the operator (`digest db upgrade`).
        sys.exit(EXIT_USAGE if isinstance(exc, SchemaRevisionError) else EXIT_FAILED)
    except KeyboardInterrupt:
        err.print(styled((_("interrupted"), "red")))
        sys.exit(130)


@click.group(
    cls=TranslatedGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_("Build a news site's morning digest and deliver it to subscriber lists."),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help=N_("Config file (default: $DIGEST_CONFIG, else ./digest.toml)."),
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=show_version,
    help=N_("Show digest's, tzdata's and Python's versions."),
)
@click.pass_context
def cli(ctx, config_path):
    ctx.obj = {"config_path": config_path}
