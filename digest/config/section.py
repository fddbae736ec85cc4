"""One table of digest.toml being read: typed getters that name the file and the key in every
error, and the checks shared by several sections."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError

from digest.errors import ConfigError
from digest.headers import address_problem
from digest.zones import is_zone


class Section:
    """Reads one TOML table, remembering which keys were used so typos are reported."""

    def __init__(self, data: Any, name: str, path: Path | None):
        if not isinstance(data, dict):
            raise ConfigError("must be a table", path=path, key=name)
        self.data, self.name, self.path = data, name, path
        self.used: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, required=False):
        self.used.add(key)
        full = f"{self.name}.{key}" if self.name else key
        if key not in self.data:
            if required or default is ...:
                raise ConfigError("is required", path=self.path, key=full)
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            want = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise ConfigError(
                f"must be {want}, not {type(value).__name__}", path=self.path, key=full
            )
        return value

    def fill(self, cls, **given):
        """An instance of the dataclass ``cls``: every field not in ``given`` read from this
        table with the field's own type and default (one place, rather than a line per key)."""
        hints = typing.get_type_hints(cls)
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in given:
                continue
            kind = hints[f.name]
            if typing.get_origin(kind) in (types.UnionType, typing.Union):
                kind = next(k for k in typing.get_args(kind) if k is not type(None))
            default = ... if f.default is dataclasses.MISSING else f.default  # ...: required
            values[f.name] = self.get(f.name, kind, default)
        return cls(**values, **given)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            where = f"[{self.name}]" if self.name else "the top level"
            raise ConfigError(
                f"unknown key(s) in {where}: {', '.join(unknown)}",
                path=self.path,
            )


def url_key(s: Section, key: str, *, required: bool = False) -> str:
    value = s.get(key, str, required=required)
    if not value.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=s.path, key=f"{s.name}.{key}")
    return value


def timezone_key(s: Section, path: Path | None) -> str:
    name = s.get("timezone", str, required=True)
    if not is_zone(name):
        raise ConfigError(
            f"unknown IANA time zone {name!r}", path=path, key="site.timezone"
        ) from None
    return name


def locale_key(s: Section, path: Path | None) -> str:
    name = s.get("locale", str, required=True)
    check_locale(name, path, "site.locale")
    return name


def check_locale(name: str, path: Path | None, key: str) -> None:
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ConfigError(f"unknown locale {name!r}", path=path, key=key) from None


def check_sender(sender: Any, path: Path | None, prefix: str) -> None:
    """A [sender] table's addresses go into headers and the SMTP envelope as they are."""
    for key in ("email", "reply_to", "unsubscribe_mailto"):
        value = getattr(sender, key)
        if value is not None and not plain_address(value):
            raise ConfigError(
                f"is not a plain email address: {value!r}", path=path, key=f"{prefix}.{key}"
            )
        problem = value is not None and address_problem(value)
        if problem:
            raise ConfigError(f"{value!r} {problem}", path=path, key=f"{prefix}.{key}")
    if any(c in sender.name for c in "\r\n"):
        raise ConfigError("must be one line", path=path, key=f"{prefix}.name")


def overlay(s: Section, base: Any, *, skip: tuple[str, ...] = ()) -> Any:
    """``base`` (a frozen dataclass) with the keys this table sets, each of the field's type;
    unknown keys are reported."""
    hints = typing.get_type_hints(type(base))
    values = {}
    for f in dataclasses.fields(base):
        if f.name in skip or f.name not in s.data:
            continue
        kind = hints[f.name]
        if typing.get_origin(kind) in (types.UnionType, typing.Union):
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        values[f.name] = s.get(f.name, kind)
    s.used.update(skip)
    s.finish()
    return dataclasses.replace(base, **values)


def check_template(template: str, path: Path | None, key: str) -> None:
    try:
        template.format(site="", date="", top="", list="", briefs="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"bad placeholder {exc}; use {{site}}, {{date}}, {{top}}, {{list}} or {{briefs}}",
            path=path,
            key=key,
        ) from None


def plain_address(value: str) -> bool:
    return "@" in value and not any(c in value for c in ' \r\n<>,;"')
