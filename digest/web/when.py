"""Dates and times on the pages: in the site's time zone, spelled in the page's language
("2 déc. 2026, 07:00" / "Dec 2, 2026, 7:00 AM"), never a raw UTC timestamp."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime

from digest.zones import zone as package_zone


def spell(value: datetime | None, zone: str, lang: str, form: str = "medium") -> str:
    """``form`` is Babel's: "short", "medium", "long", or a pattern such as "HH:mm"."""
    if value is None:
        return ""
    # The tzdata package's zone, as the schedules use (digest/zones.py): the system's tzdata
    # may be older, and a page an hour off the schedule it shows is worse than none.
    return format_datetime(value, form, tzinfo=package_zone(zone), locale=lang)


class When:
    """The pages' ``when(dt)`` / ``when(dt, "HH:mm")``: bound to one page's language."""

    def __init__(self, zone: str, lang: str):
        self.zone, self.lang = zone, lang

    def __call__(self, value: datetime | None, form: str = "medium") -> str:
        return spell(value, self.zone, self.lang, form)
