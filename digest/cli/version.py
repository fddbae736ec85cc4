"""`digest --version`: digest's version (the package metadata's, the only one) and the time
zone data and Python it runs with, the three things a bug report about dates needs."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import click

from digest import __version__


def version_text() -> str:
    try:
        tzdata = f"tzdata {version('tzdata')}"
    except PackageNotFoundError:
        tzdata = "tzdata not installed"
    return f"digest {__version__} ({tzdata}, Python {platform.python_version()})"


def show_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()
