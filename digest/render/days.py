"""The ticker grouped by day, so a list crossing midnight says so ("Aujourd'hui" / "Hier").

Within a group the edition's order is kept (newest first, or the editor's order); undated
headlines come last, after every dated one. An edition whose headlines are all from the
reference day gets a single group without a heading: nothing to point out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from digest.locale import long_date
from digest.models import Story


def day_label(day: date, today: date, ui: Mapping[str, str], locale: str) -> str:
    if day == today:
        return ui["today"]
    if day == today - timedelta(days=1):
        return ui["yesterday"]
    return long_date(datetime(day.year, day.month, day.day), locale)


def group_by_day(
    stories: Sequence[Story],
    reference: datetime,
    tz: ZoneInfo,
    ui: Mapping[str, str],
    locale: str,
) -> list[tuple[str | None, list[Story]]]:
    """[(heading or None, stories)], dated days in order of first appearance, undated last."""
    today = reference.astimezone(tz).date()
    days: dict[date, list[Story]] = {}
    undated: list[Story] = []
    for story in stories:
        if story.published_at is None:
            undated.append(story)
        else:
            days.setdefault(story.published_at.astimezone(tz).date(), []).append(story)
    if set(days) <= {today}:
        flat = days.get(today, []) + undated
        return [(None, flat)] if flat else []
    groups: list[tuple[str | None, list[Story]]] = [
        (day_label(day, today, ui, locale), items) for day, items in days.items()
    ]
    if undated:
        groups.append((ui["undated"], undated))
    return groups
