"""The one way the CLI prints: whatever is printed is text, never rich markup.

Subjects, headlines, source errors (an HTTP error body), config messages and addresses come
from outside. Printed through rich's markup they crashed (``[/]`` is a MarkupError) or lost
their brackets (``[edition]``, ``[[sources]]``). So the consoles here never read markup, and
every string they print has its control characters made visible (digest.visible). Colour is
added only by ``styled``, which takes our own labels with a style beside the data, never a
markup string.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from digest.visible import visible


class DataConsole(Console):
    """A rich Console that prints strings as they are: no markup, no :emoji: codes, no
    highlighting, control characters made visible. Tables and titles built from plain strings
    go through ``render_str`` too, so they get the same treatment."""

    def __init__(self, **kwargs):
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs) -> Text:
        kwargs.update(markup=False, emoji=False, highlight=False)
        return super().render_str(visible(text), **kwargs)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from parts: a string is shown as is; a ``(text, style)`` pair is shown in that
    style (e.g. ``("warning:", "yellow")``). Neither is ever read as markup."""
    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(visible(part[0]), style=part[1])
        else:
            line.append(visible(part))
    return line


err = DataConsole(stderr=True)
out = DataConsole()
