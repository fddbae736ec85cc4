"""``--help`` in the operator's language: the commands' and options' help texts are English
msgids (marked ``N_()`` where they are declared) and are translated when a help page is shown.

Click reads ``help`` when it formats a page, so each page swaps in the translated texts of the
command, its options and its subcommands' one-line summaries, and puts the English back after
(an in-process test may show pages in several languages). Click's own words ("Usage:",
"Options:") are click's and stay English.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from digest.cli.language import gettext


@contextlib.contextmanager
def _translated(items: list) -> Iterator[None]:
    saved = [(item, item.help) for item in items if getattr(item, "help", None)]
    try:
        for item, text in saved:
            item.help = gettext(text)
        yield
    finally:
        for item, text in saved:
            item.help = text


class TranslatedCommand(click.Command):
    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated([self, *self.get_params(ctx)]):
            super().format_help(ctx, formatter)


class TranslatedGroup(click.Group):
    command_class = TranslatedCommand
    group_class = type  # a group made with @group.group() is one of these too

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated([self, *self.get_params(ctx), *self.commands.values()]):
            super().format_help(ctx, formatter)
