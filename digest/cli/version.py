"""`digest --version`: digest's version (the package metadata's, the only one) and the time
zone data and Python it runs with, the three things a bug report about dates needs."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import click

from digest import __version__


def version_text() -> str:
    """'digest 0.1.0 (tzdata 2026.6, IANA 2026f, Python 3.11.7)': the package every time zone
    is read from (digest.zones), with the IANA release it carries."""
    try:
        version("tzdata")
    except PackageNotFoundError:
        return f"digest {__version__} (tzdata not installed, Python {platform.python_version()})"
    from digest.zones import tzdata_version

    package, iana = tzdata_version()
    return (
        f"digest {__version__} (tzdata {package}, IANA {iana}, Python {platform.python_version()})"
    )


def show_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()
