"""serve, preview, editor-password: the web app and looking at an email."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import cli
from digest.cli.common import edition_options, err, out, styled, with_config
from digest.cli.language import gettext as _
from digest.config import Config, source_from_location
from digest.errors import DigestError
from digest.i18n import N_


@cli.command(
    help=N_("Run the web app: editors' previews and approval, subscribers' pages, SendGrid events.")
)
@with_config
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(config: Config, host, port):
    import uvicorn

    from digest.cli.common import signer_for
    from digest.web.app import create_app
    from digest.web.pages import base_path

    signer_for(config)  # warns when DIGEST_SECRET_KEY is not set
    if not config.editors:
        err.print(
            styled(
                (_("warning:"), "yellow"),
                " ",
                _(
                    "no [editors] table in the config: nobody can log in (see "
                    "'digest editor-password')"
                ),
            )
        )
    app = create_app(config)
    out.print(
        _("digest web app on %(url)s")
        % {"url": f"http://{host}:{port}{base_path(config.site.public_url)}/"}
    )
    # create_app put the token redaction on uvicorn's loggers. proxy_headers off: the app
    # reads X-Forwarded-For itself, from [web] trusted_proxies only (digest/web/clientaddr.py).
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")


@cli.command(help=N_("Screenshots of an edition: a stored one (EDITION_ID) or one built now."))
@with_config
@click.argument("edition_id", required=False)
@click.option(
    "--list",
    "list_name",
    metavar="NAME",
    help=N_("Build this list's edition (default: the first configured list)."),
)
@edition_options
@click.option(
    "--screenshot",
    "shot_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=N_("Folder for PNGs of the email at 375 px and 800 px (headless Chromium)."),
)
def preview(config: Config, edition_id, list_name, now, sources, shot_dir):
    from digest.edition.build import build_edition, default_list, preview_values
    from digest.render import Personalizer
    from digest.web.screenshot import screenshot

    if edition_id:
        from digest.store.db import open_database
        from digest.store.editions import get_edition

        with open_database(config.database_url) as db:
            stored = get_edition(db, edition_id)
        if stored is None:
            raise DigestError(_("there is no stored edition %(edition)s") % {"edition": edition_id})
        edition, rendered = stored.edition, stored.rendered
    else:
        built = build_edition(
            config,
            list_name=list_name or default_list(config),
            now=now,
            sources=[source_from_location(s) for s in sources] or None,
        )
        edition, rendered = built.edition, built.rendered
    html = Personalizer(rendered).fill(preview_values(config, edition.locale))[0]
    for path in screenshot(html, shot_dir, edition.id):
        out.print(str(path))


@cli.command(
    "editor-password", help=N_("Print a password hash for an [editors] entry of the config.")
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help=N_("The password (prompted when not given)."),
)
def editor_password(password):
    from digest.web.passwords import hash_password

    if len(password) < 10:
        raise click.BadParameter(_("use at least 10 characters"), param_hint="--password")
    out.print(hash_password(password), soft_wrap=True)
