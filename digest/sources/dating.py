"""Turn clock times printed on a homepage ("07:34") into aware datetimes.

Homepages print only HH:MM, newest first, and the list runs backwards past midnight. The
text dump and scraped pages share this one rule (``BackwardsDater``):

    Each time is dated to the latest instant, at or before the instant of the line above it
    (the edition's reference time for the first line), at which the site's wall clock showed
    that HH:MM.

On ordinary days that is exactly: the first time is its latest occurrence at or before the
reference time; a line whose time is *later* than the line above it belongs to the previous
day; an equal or earlier time stays on the same day. Several midnights in a row work the
same way, one day per wrap.

Daylight-saving transitions follow from the same rule instead of special cases:

- Fold (clocks go back, 02:30 happens twice): going backwards in time we meet the later
  occurrence first, so it is taken when it is not after the line above, else the earlier one.
- Gap (clocks go forward, 02:30 never happens on that day): the stamp cannot be exact, so
  it is dated to the instant of the jump itself (03:00 new time). That keeps it after
  everything stamped before the gap and before everything stamped after it, which is all
  the ordering the page promised.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

# "07:34", "7:34", "07h34", "07.34". \d also matches Arabic-Indic digits, which int() reads.
CLOCK = re.compile(r"(?<!\d)(\d{1,2})\s*[:hH.]\s*(\d{2})(?!\d)")


def parse_clock(text: str) -> time | None:
    """The first HH:MM in ``text`` as a time, or None when there is none or it is not valid."""
    match = CLOCK.search(text)
    if not match:
        return None
    return make_clock(match.group(1), match.group(2))


def make_clock(hours: str, minutes: str) -> time | None:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        return None
    return time(h, m)


class BackwardsDater:
    """Dates a newest-first sequence of wall-clock times backwards from a reference time."""

    def __init__(self, reference: datetime, tz: ZoneInfo) -> None:
        if reference.tzinfo is None:
            reference = reference.replace(tzinfo=tz)
        self.tz = tz
        # Instants are compared in UTC: aware datetimes sharing one tzinfo compare by wall
        # time and ignore ``fold``, which is exactly wrong around a DST fold.
        self.reference = reference.astimezone(UTC)
        self._bound = self.reference  # nothing below may be dated after this instant

    def date(self, clock: time) -> datetime:
        """The instant for the next line's time; it becomes the bound for the line after."""
        day = self._bound.astimezone(self.tz).date()
        # Two days back always suffices: any instant of the previous local day is before the
        # bound; the third day only matters for gap times at midnight.
        for back in range(3):
            found = self._latest_on(day - timedelta(days=back), clock)
            if found is not None:
                self._bound = found
                return found.astimezone(self.tz)
        raise AssertionError("unreachable: a day earlier always has the time")  # pragma: no cover

    def anchor(self, instant: datetime) -> None:
        """An item carried a full timestamp: date the next clock-only items from it.

        Ignored when it lies after the reference time (a future-dated item must not drag the
        rest of the list into the future).
        """
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=self.tz)
        instant = instant.astimezone(UTC)
        if instant <= self.reference:
            self._bound = instant

    # dt.date, not date: inside this class, ``date`` names the method above.
    def _latest_on(self, day: dt.date, clock: time) -> datetime | None:
        fitting = [c for c in self._instants(day, clock) if c <= self._bound]
        return max(fitting) if fitting else None

    def _instants(self, day: dt.date, clock: time) -> list[datetime]:
        """The UTC instants at which the wall clock showed ``clock`` on ``day`` (0, 1 or 2)."""
        early, late = (
            datetime.combine(day, clock, tzinfo=self.tz).replace(fold=fold).astimezone(UTC)
            for fold in (0, 1)
        )
        if early > late:
            # fold=0 reads the time with the offset before a transition, fold=1 with the one
            # after; only in a gap does that order come out reversed.
            return [self._jump(late, early)]
        return [early, late]  # the same instant on an ordinary day; two in a fold

    def _jump(self, low: datetime, high: datetime) -> datetime:
        """The instant between ``low`` and ``high`` at which the zone's offset changes.

        zoneinfo does not expose its transitions, so bisect on whole seconds (transitions
        fall on whole seconds; a gap is at most a few hours: ~14 steps).
        """
        before = low.astimezone(self.tz).utcoffset()
        lo, hi = int(low.timestamp()), int(high.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, UTC).astimezone(self.tz).utcoffset() == before:
                lo = mid
            else:
                hi = mid
        return datetime.fromtimestamp(hi, UTC)
