"""Every time zone digest uses, from one source: the ``tzdata`` package it depends on.

``zoneinfo.ZoneInfo(name)`` reads the system's database first (/usr/share/zoneinfo) and the
tzdata package only when there is none, so the same config sent Moroccan readers their 07:00
digest an hour apart on two hosts (the system's 2025b and the package's 2026f disagree about
Morocco from 2026 on). Here the zone is read from the package's own file, whatever the system
has, and without ``zoneinfo.reset_tzpath``, which would change it for every other library in
the process. ``digest --version`` and ``digest health`` name the version in use.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from zoneinfo import ZoneInfo

from digest.errors import DigestError

# IANA names are ASCII letters, digits and "_+-" in "/"-separated parts ("America/Argentina/
# Buenos_Aires", "Etc/GMT+1"); anything else (a "..", a leading "/", a backslash) is refused
# before any file is opened, and the name must also be in the package's list of zones.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")
NAME_MAX = 64


class UnknownZone(DigestError, ValueError):
    """A name that is not an IANA time zone of the tzdata package."""

    def __init__(self, name: str):
        super().__init__(
            f"unknown time zone {name!r} (use an IANA name such as "
            "Africa/Casablanca or Europe/Paris)"
        )
        self.name = name


class PackageZone(ZoneInfo):
    """A ZoneInfo read from the tzdata package. It pickles as its name and unpickles through
    zone() (APScheduler pickles triggers and run times into its job store; a plain ZoneInfo
    read from a file refuses to be pickled, and one unpickled by name would come back from the
    system's database)."""

    def __reduce__(self):
        return zone, (self.key,)


@functools.cache
def available() -> frozenset[str]:
    """The zone names the tzdata package holds (its own list, case as IANA spells them)."""
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def is_zone(name: object) -> bool:
    return (
        isinstance(name, str)
        and len(name) <= NAME_MAX
        and _NAME.fullmatch(name) is not None
        and name in available()
    )


@functools.cache
def zone(name: str) -> PackageZone:
    """The ZoneInfo for an IANA name, read from the tzdata package (one object per name)."""
    if not is_zone(name):
        raise UnknownZone(str(name))
    path = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with path.open("rb") as f:
        # key= so that str(tz) and tz.key give the name, as ZoneInfo(name) would.
        return PackageZone.from_file(f, key=name)


def tzdata_version() -> tuple[str, str]:
    """(package version, IANA version), e.g. ('2026.6', '2026f')."""
    import tzdata

    try:
        package = version("tzdata")
    except PackageNotFoundError:  # vendored or zipapp: the module still says what it is
        package = getattr(tzdata, "__version__", "unknown")
    return package, getattr(tzdata, "IANA_VERSION", "unknown")


def tzdata_label() -> str:
    """'tzdata 2026.6 (IANA 2026f)'."""
    package, iana = tzdata_version()
    return f"tzdata {package} (IANA {iana})"
