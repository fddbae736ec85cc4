"""The sections that need more than typed getters: [web], [tracking], [sendgrid], [smtp], [delivery] and
each [[sources]] entry."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_network
from pathlib import Path
from types import MappingProxyType
from typing import Any

from digest.config.model import (
    DEFAULT_BOILERPLATE,
    ROLES,
    SOURCE_KINDS,
    DeliveryConfig,
    SendGridConfig,
    SmtpConfig,
    SourceConfig,
    TrackingConfig,
    WebConfig,
)
from digest.config.section import Section
from digest.errors import ConfigError


def web_table(table: Any, root: Path, path: Path | None, env: Mapping[str, str]) -> WebConfig:
    s = Section(table, "web", path)
    backend = s.get("backend", str, WebConfig.backend)
    if backend not in ("outbox", "smtp", "sendgrid"):
        raise ConfigError(
            f"must be 'outbox', 'smtp' or 'sendgrid', not {backend!r}", path=path, key="web.backend"
        )
    outbox = s.get("outbox_dir", str, None)
    proxies = []
    for entry in s.get("trusted_proxies", list, []):
        try:
            if not isinstance(entry, str):  # ip_network(1) would mean 0.0.0.1
                raise TypeError(entry)
            proxies.append(ip_network(entry.strip(), strict=False))
        except (TypeError, ValueError):
            raise ConfigError(
                f"must be a list of IP addresses or networks; {entry!r} is not one",
                path=path,
                key="web.trusted_proxies",
            ) from None
    metrics = s.get("metrics", bool, WebConfig.metrics)
    s.finish()
    return WebConfig(
        backend=backend,
        outbox_dir=(root / outbox).resolve() if outbox else None,
        trusted_proxies=tuple(proxies),
        metrics=metrics,
        metrics_token=env.get("DIGEST_METRICS_TOKEN") or None,
    )


def tracking_table(table: Any, path: Path | None) -> TrackingConfig:
    s = Section(table, "tracking", path)
    tracking = s.fill(TrackingConfig)
    s.finish()
    if tracking.prefetch_seconds < 0:
        raise ConfigError("must be 0 or more", path=path, key="tracking.prefetch_seconds")
    return tracking


def sendgrid_table(table: Any, path: Path | None, env: Mapping[str, str]) -> SendGridConfig:
    s = Section(table, "sendgrid", path)
    host = s.get("api_host", str, SendGridConfig.api_host)
    host = (env.get("SENDGRID_API_HOST") or host).rstrip("/")
    if host.endswith("/v3"):
        # The library appends /v3/mail/send itself; a host ending in /v3 would post to /v3/v3.
        raise ConfigError("give the host only, without /v3", path=path, key="sendgrid.api_host")
    if not host.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=path, key="sendgrid.api_host")
    categories = s.get("categories", list, [])
    config = s.fill(
        SendGridConfig,
        api_host=host,
        api_key=env.get("SENDGRID_API_KEY") or None,
        categories=tuple(str(c) for c in categories),
    )
    s.finish()
    if config.timeout <= 0:
        raise ConfigError("must be positive", path=path, key="sendgrid.timeout")
    return config


def smtp_table(table: Any, path: Path | None, env: Mapping[str, str]) -> SmtpConfig:
    s = Section(table, "smtp", path)
    if "password" in s.data:
        raise ConfigError(
            "secrets do not go in the config file; set DIGEST_SMTP_PASSWORD",
            path=path,
            key="smtp.password",
        )
    security = s.get("security", str, SmtpConfig.security)
    if security not in ("starttls", "tls", "none"):
        raise ConfigError(
            f"must be 'starttls', 'tls' or 'none', not {security!r}", path=path, key="smtp.security"
        )
    config = s.fill(
        SmtpConfig,
        security=security,
        port=s.get("port", int, 465 if security == "tls" else SmtpConfig.port),
        password=env.get("DIGEST_SMTP_PASSWORD") or None,
    )
    s.finish()
    if not 1 <= config.connections <= 32:
        raise ConfigError("must be between 1 and 32", path=path, key="smtp.connections")
    return config


def delivery_table(table: Any, path: Path | None) -> DeliveryConfig:
    s = Section(table, "delivery", path)
    config = s.fill(DeliveryConfig)
    s.finish()
    if config.batch_size is not None and not 1 <= config.batch_size <= 1000:
        raise ConfigError("must be between 1 and 1000", path=path, key="delivery.batch_size")
    for key in ("rate_per_second", "rate_per_minute", "lease_seconds", "database_retry_seconds"):
        value = getattr(config, key)
        if value is not None and value <= 0:
            raise ConfigError("must be positive", path=path, key=f"delivery.{key}")
    return config


def source_from_location(location: str, *, cwd: Path | None = None) -> SourceConfig:
    """A source given on the command line: its kind is detected from the content later."""
    if not location.startswith(("http://", "https://")):
        location = str((cwd or Path.cwd()) / location)
    name = Path(location).name if not location.startswith("http") else location
    return SourceConfig(name=name, kind="auto", location=location)


def source_entry(
    entry: Any, index: int, root: Path, path: Path | None, *, prefix: str = "sources"
) -> SourceConfig:
    s = Section(entry, f"{prefix}[{index}]", path)
    name = s.get("name", str, f"source-{index + 1}")
    s.name = f"{prefix}.{name}"
    kind = s.get("kind", str, "auto")
    if kind not in SOURCE_KINDS:
        raise ConfigError(
            f"must be one of {', '.join(SOURCE_KINDS)}, not {kind!r}",
            path=path,
            key=f"{s.name}.kind",
        )
    url = s.get("url", str, None)
    file = s.get("path", str, None)
    if (url is None) == (file is None):
        raise ConfigError("give exactly one of 'url' or 'path'", path=path, key=s.name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=path, key=f"{s.name}.url")
    location = url if url is not None else str((root / file).resolve())
    role = s.get("role", str, None)
    if role is not None and role not in ROLES:
        raise ConfigError(
            f"must be 'ticker' or 'featured', not {role!r}", path=path, key=f"{s.name}.role"
        )
    boilerplate = s.get("boilerplate", list, list(DEFAULT_BOILERPLATE))
    if not all(isinstance(b, str) for b in boilerplate):
        raise ConfigError("must be a list of strings", path=path, key=f"{s.name}.boilerplate")
    selectors = s.get("selectors", dict, {})
    if not all(isinstance(v, str) for v in selectors.values()):
        raise ConfigError(
            "values must be CSS selector strings", path=path, key=f"{s.name}.selectors"
        )
    if kind == "page" and not selectors:
        raise ConfigError("a page source needs [sources.selectors]", path=path, key=s.name)
    src = SourceConfig(
        name=name,
        kind=kind,
        location=location,
        role=role,
        boilerplate=tuple(boilerplate),
        selectors=MappingProxyType(dict(selectors)),
        timeout=s.get("timeout", float, 10.0),
        max_bytes=s.get("max_bytes", int, 5_000_000),
        allow_private=s.get("allow_private", bool, False),
    )
    s.finish()
    return src


EDITOR_ROLES = ("editor", "admin")


def editors_table(table: dict, path: Path | None) -> tuple[dict[str, str], dict[str, str]]:
    """``[editors]``: ``name = "scrypt$..."`` (an editor, as before roles existed) or
    ``[editors.NAME]`` with ``password`` and ``role``. Returns (name -> hash, name -> role)."""
    hashes: dict[str, str] = {}
    roles: dict[str, str] = {}
    for name, value in table.items():
        if isinstance(value, dict):
            s = Section(value, f"editors.{name}", path)
            password = s.get("password", str, required=True)
            role = s.get("role", str, "editor")
            s.finish()
            if role not in EDITOR_ROLES:
                raise ConfigError(
                    "must be 'editor' or 'admin'", path=path, key=f"editors.{name}.role"
                )
            key = f"editors.{name}.password"
        else:
            password, role, key = value, "editor", f"editors.{name}"
        if not isinstance(password, str) or not password.startswith("scrypt$"):
            raise ConfigError(
                "must be a password hash from 'digest editor-password'", path=path, key=key
            )
        hashes[name], roles[name] = password, role
    return hashes, roles
