"""What every command shares: the config option, time parsing, consoles, exit codes."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from digest.cli.language import gettext as _
from digest.cli.language import ngettext
from digest.cli.output import err, out, styled  # noqa: F401 - the commands print through these
from digest.config import Config, load_config
from digest.i18n import N_
from digest.logs import never_log
from digest.visible import visible

EXIT_USAGE = 2  # bad config or arguments
EXIT_FAILED = 1  # the work could not be done


def with_config(fn):
    """Every command takes --config; it wins over the group's --config and DIGEST_CONFIG."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help=N_("Config file (default: $DIGEST_CONFIG, else ./digest.toml)."),
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
            _("%(value)s is not ISO 8601 (e.g. 2025-07-01T08:00:00+01:00)") % {"value": repr(value)}
        ) from None


def edition_options(fn):
    fn = click.option(
        "--source",
        "sources",
        multiple=True,
        metavar="PATH|URL",
        help=N_("Read this source instead of the configured ones (repeatable; kind detected)."),
    )(fn)
    fn = click.option(
        "--now",
        callback=parse_now,
        metavar="ISO8601",
        help=N_(
            "The edition's reference time (default: the clock). A naive time is read in the "
            "site's time zone."
        ),
    )(fn)
    return fn


def cli_actor() -> str:
    """Who the audit (send_actions) says did it from the command line."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "cli"


def signer_for(config: Config):
    from digest.tokens import TokenSigner, load_secret_key

    key = load_secret_key(config.secret_key, config.state_dir)
    never_log(key.value)  # a key read from var/.secret-key is as secret as DIGEST_SECRET_KEY
    if key.generated_at:
        err.print(
            styled(
                (_("warning:"), "yellow"),
                " ",
                _(
                    "DIGEST_SECRET_KEY is not set; using the local key in %(path)s. "
                    "Unsubscribe links stop working if that file is lost: set "
                    "DIGEST_SECRET_KEY in production."
                )
                % {"path": key.generated_at},
            )
        )
    return TokenSigner(key.value)


def progress_bar(label: str) -> Progress:
    return Progress(
        TextColumn(visible(label), markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


class _RateColumn(TextColumn):
    def __init__(self):
        super().__init__("")

    def render(self, task):
        from rich.text import Text

        if not task.speed:
            return Text("")
        return Text(_("%(rate)s msg/s") % {"rate": f"{task.speed:,.0f}"})


def utf8_note(count: int, config: Config) -> str:
    """What a subscriber with a non-ASCII local part means for each backend (import, status)."""
    where = f"{config.smtp.host}:{config.smtp.port}"
    return ngettext(
        "%(n)s address has a non-ASCII local part (SMTPUTF8): the outbox and SendGrid deliver "
        "them; smtp (%(where)s) only if that relay offers SMTPUTF8, else each fails at every "
        "send with that reason",
        "%(n)s addresses have a non-ASCII local part (SMTPUTF8): the outbox and SendGrid "
        "deliver them; smtp (%(where)s) only if that relay offers SMTPUTF8, else each fails at "
        "every send with that reason",
        count,
    ) % {"n": count, "where": where}


def open_db(config: Config):
    """The configured database (its schema revision checked: an old one asks for an upgrade)."""
    from digest.store.db import open_database

    return open_database(config.database_url)


def now_or_clock(now: datetime | None) -> datetime:
    """``--now`` (a naive value read in the machine's zone) or the clock."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.astimezone()
