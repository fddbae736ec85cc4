"""api-token create / revoke / list: the JSON API's bearer tokens (digest/store/api_tokens.py)."""

from __future__ import annotations

import click
from rich.table import Table

from digest.cli.app import cli
from digest.cli.common import cli_actor, err, out, with_config
from digest.cli.language import gettext as _
from digest.config import Config
from digest.i18n import N_


@cli.group(
    "api-token",
    help=N_(
        "Bearer tokens for the JSON API (read: GETs; write: also approve, send control "
        "and subscribers). Only a hash is stored: a token is shown once, when made."
    ),
)
def api_token():
    pass


@api_token.command(
    "create", help=N_("Make a token and print it once (send it as 'Authorization: Bearer TOKEN').")
)
@with_config
@click.option("--name", required=True, metavar="NAME", help=N_("What the token is for, unique."))
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    required=True,
    help=N_("read: GET endpoints only; write: also the POST endpoints."),
)
def create(config: Config, name, scope):
    from digest.store.api_tokens import create_token
    from digest.store.db import open_database

    token = create_token(open_database(config.database_url), name, scope, by=cli_actor())
    err.print(
        _("API token %(name)s (%(scope)s); it is shown only now, keep it somewhere safe:")
        % {"name": repr(name), "scope": scope}
    )
    # stdout alone carries the token, so `TOKEN=$(digest api-token create ...)` works.
    click.echo(token)


@api_token.command(
    "revoke", help=N_("Revoke a token: the API refuses it from the next request on.")
)
@with_config
@click.argument("name", metavar="NAME")
def revoke(config: Config, name):
    from digest.store.api_tokens import revoke_token
    from digest.store.db import open_database

    if revoke_token(open_database(config.database_url), name):
        out.print(_("revoked API token %(name)s") % {"name": repr(name)})
    else:
        out.print(_("API token %(name)s was revoked already") % {"name": repr(name)})


@api_token.command("list", help=N_("The tokens, live and revoked (never the tokens themselves)."))
@with_config
def list_(config: Config):
    from digest.store.api_tokens import list_tokens
    from digest.store.db import open_database

    tokens = list_tokens(open_database(config.database_url))
    if not tokens:
        out.print(_("no API tokens ('digest api-token create --name NAME --scope read' makes one)"))
        return
    table = Table(_("name"), _("scope"), _("created"), _("by"), _("last used"), _("revoked"))
    for tk in tokens:
        table.add_row(
            tk.name,
            tk.scope,
            f"{tk.created_at:%Y-%m-%d %H:%M}",
            tk.created_by,
            f"{tk.last_used_at:%Y-%m-%d %H:%M}" if tk.last_used_at else "",
            f"{tk.revoked_at:%Y-%m-%d %H:%M}" if tk.revoked_at else "",
        )
    out.print(table)
