"""The command line: thin commands that load the config, call one library function, print.

The root group and ``main`` are in app.py; each command group lives in its own module and adds
its commands to ``cli`` when imported, which is what importing this package does.
"""

from digest.cli import (  # noqa: F401 - registers them
    apitokens,
    db,
    edition,
    history,
    init,
    schedule,
    status,
    subscribers,
    web,
)
from digest.cli.app import cli, main

__all__ = ["cli", "main"]
