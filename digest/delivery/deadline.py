"""A delivery deadline: will this send be done by then, and was it?

At the start of a send the finish is estimated from a rate: the one the latest earlier edition
of the list measured on the same backend (``editions.send_rate``), else the provider's limit as
configured (``[delivery] rate_per_second`` / ``rate_per_minute``, the slower one wins). Without
either there is nothing honest to estimate from, and the send says so instead of guessing.
At the end, a run that finished after its deadline is recorded on the edition for ``health``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.config import DeliveryConfig
from digest.errors import DigestError

log = logging.getLogger("digest.delivery")

# A run that sent fewer messages than this tells nothing about the rate (start-up dominates).
MIN_MEASURED = 50


class DeadlineError(DigestError):
    """A --deadline that is not a time of day."""


@dataclass(frozen=True)
class Estimate:
    rows: int  # messages left to send
    rate: float | None  # messages a second, None when unknown
    basis: str  # where the rate comes from, for the warning
    finish: datetime | None  # UTC


def parse_hhmm(value: str, what: str = "--deadline") -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", (value or "").strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise DeadlineError(f"{what} {value!r} is not a time of day like 07:30")
    return int(m[1]), int(m[2])


def moment(hhmm: tuple[int, int], day: date, tz: ZoneInfo) -> datetime:
    """HH:MM on ``day`` in ``tz`` as an instant: in a spring-forward gap, the end of the gap
    (what the wall clock reads first after it); a repeated time, its first occurrence."""
    wall = datetime.combine(day, time(*hhmm))
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return first.astimezone(UTC)
    # In the gap: both readings of the wall time straddle the transition; the later one,
    # taken back an hour's worth, is where the gap ends. Bisect on whole seconds.
    low = min(first, wall.replace(tzinfo=tz, fold=1)).astimezone(UTC)
    high = max(first, wall.replace(tzinfo=tz, fold=1)).astimezone(UTC)
    after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = (low + (high - low) / 2).replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == after:
            high = mid
        else:
            low = mid
    return high


def deadline_at(value: str, *, day: date, tz: ZoneInfo) -> datetime:
    """``--deadline 07:30`` on the edition's local day in ``tz``, as a UTC instant."""
    return moment(parse_hhmm(value), day, tz)


def configured_rate(delivery: DeliveryConfig) -> float | None:
    rates = [
        r
        for r in (
            delivery.rate_per_second,
            delivery.rate_per_minute / 60 if delivery.rate_per_minute else None,
        )
        if r
    ]
    return min(rates) if rates else None


def estimate(
    rows: int, *, measured: float | None, delivery: DeliveryConfig, now: datetime
) -> Estimate:
    limit = configured_rate(delivery)
    if measured and limit and limit < measured:
        rate, basis = limit, f"the configured limit of {_rate(limit)}"
    elif measured:
        rate, basis = measured, f"the {_rate(measured)} the previous edition measured"
    elif limit:
        rate, basis = limit, f"the configured limit of {_rate(limit)} ([delivery])"
    else:
        return Estimate(rows, None, "no rate known", None)
    return Estimate(rows, rate, basis, now + timedelta(seconds=rows / rate))


def check(est: Estimate, deadline: datetime, tz: ZoneInfo) -> str | None:
    """The warning when the estimate cannot meet the deadline (or cannot tell), else None."""
    when = f"{deadline.astimezone(tz):%H:%M %Z}"
    if est.rows == 0:
        return None
    if est.finish is None:
        return (
            f"cannot tell whether the deadline {when} will be met: no earlier edition "
            "measured a rate and [delivery] sets no rate_per_second or rate_per_minute"
        )
    if est.finish <= deadline:
        return None
    return (
        f"this send cannot meet its deadline {when}: {est.rows} messages at {est.basis} "
        f"end about {est.finish.astimezone(tz):%H:%M %Z}"
    )


def missed(deadline: datetime, finished: datetime, tz: ZoneInfo, *, edition_id: str) -> str | None:
    if finished <= deadline:
        return None
    end, due = finished.astimezone(tz), deadline.astimezone(tz)
    shown = f"{end:%H:%M %Z}" if end.date() == due.date() else f"{end:%Y-%m-%d %H:%M %Z}"
    return (
        f"{edition_id} finished at {shown}, after its deadline {due:%H:%M %Z} "
        f"({_duration(finished - deadline)} late)"
    )


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


def measured_rate(sent: int, seconds: float) -> float | None:
    if sent < MIN_MEASURED or seconds <= 0:
        return None
    return round(sent / seconds, 3)


def _rate(per_second: float) -> str:
    if per_second < 2:  # 1/s reads better as the 60 a minute it was probably set as
        return f"{per_second * 60:g} messages a minute"
    return f"{per_second:g} messages a second"
