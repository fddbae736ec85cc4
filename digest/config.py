"""Settings, loaded once from TOML and the environment into frozen objects.

This is the only module that reads the config file or the environment. Everything else gets
a ``Config`` passed down. Lookup order for the file: ``--config FILE``, then ``DIGEST_CONFIG``,
then ``./digest.toml``. Relative paths inside the file are relative to the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError

from digest import __version__
from digest.errors import ConfigError
from digest.headers import address_problem
from digest.resources import default_templates
from digest.zones import is_zone, zone

SOURCE_KINDS = ("auto", "text", "rss", "page")
ROLES = ("ticker", "featured")
DEFAULT_BOILERPLATE = (
    "Suivez-nous sur",
    "Follow us on",
    "تابعونا على",
)
USER_AGENT = f"digest/{__version__} (morning newsletter builder)"
LIST_TITLE_MAX = 200


@dataclass(frozen=True)
class SiteConfig:
    name: str
    url: str
    timezone: str
    locale: str
    postal_address: str
    public_url: str

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)  # from the tzdata package, never the system's database


@dataclass(frozen=True)
class SenderConfig:
    email: str
    name: str = ""
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None


@dataclass(frozen=True)
class ThemeConfig:
    primary_color: str = "#b3122e"
    background_color: str = "#f4f1ea"
    text_color: str = "#1d1d1b"
    link_color: str = "#b3122e"
    font_family: str = "Georgia, 'Times New Roman', serif"
    logo_url: str | None = None
    fonts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class EditionConfig:
    window_hours: float = 24
    featured_count: int = 1
    ticker_max: int = 30
    subject: str = "{site} — {date}"
    preheader: str = "{top}"
    max_html_bytes: int = 100_000
    gather_timeout: float = 30.0  # seconds for reading every source (each has its own timeout)


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str  # one of SOURCE_KINDS
    location: str  # a path (already made absolute) or an http(s) URL
    role: str | None = None  # "ticker", "featured", or None for sources that carry both
    boilerplate: tuple[str, ...] = DEFAULT_BOILERPLATE
    selectors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    timeout: float = 10.0
    max_bytes: int = 5_000_000
    # An intranet feed: may be on a loopback/private address (never cloud metadata), and its
    # redirects may not leave its origin. Off by default, and for --source URLs.
    allow_private: bool = False

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))


@dataclass(frozen=True)
class SendGridConfig:
    api_host: str = "https://api.sendgrid.com"  # SENDGRID_API_HOST overrides; EU: api.eu.sendgrid.com
    api_key: str | None = field(default=None, repr=False)  # SENDGRID_API_KEY only
    timeout: float = 30.0  # the library has none by default
    sandbox: bool = False  # mail_settings.sandbox_mode: SendGrid answers 200, delivers nothing
    asm_group_id: int | None = None  # unsubscribe group (Advanced Suppression Manager)
    categories: tuple[str, ...] = ()  # added to the list name and edition id
    # The Event Webhook's verification key (base64 DER, from SendGrid's settings); without it
    # POST /hooks/sendgrid refuses everything rather than trusting unsigned events.
    webhook_public_key: str | None = None


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" (implicit, usually port 465) or "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # DIGEST_SMTP_PASSWORD only
    timeout: float = 30.0
    local_hostname: str | None = None  # what EHLO says; default: the machine's name
    connections: int = 1  # reused connections used at once (relays limit them)


@dataclass(frozen=True)
class DeliveryConfig:
    # Recipients handed to the backend at once; default: the backend's own largest
    # (SendGrid 1,000 per request, SMTP 100 per connection turn, outbox 1,000).
    batch_size: int | None = None
    rate_per_second: float | None = None  # a provider's limit, as messages per second
    rate_per_minute: float | None = None
    max_retries: int = 5  # for transient errors of one batch, before the send pauses
    backoff_base: float = 1.0  # seconds; doubles per retry, with jitter
    backoff_max: float = 120.0
    # The longest a provider's Retry-After is waited (honoured in full up to this); beyond it
    # the send pauses, resumable, rather than sleeping for hours or cutting the wait short.
    retry_after_max: float = 3600.0
    error_budget: float = 0.05  # failed share of attempted messages that pauses the send
    error_budget_min: int = 20  # ...once at least this many were attempted


@dataclass(frozen=True)
class WebConfig:
    backend: str = "outbox"  # where test sends and signup confirmations go
    outbox_dir: Path | None = None  # default: <state_dir>/outbox
    metrics: bool = False  # serve {prefix}/metrics (Prometheus); off unless asked for
    # DIGEST_METRICS_TOKEN: when set, /metrics wants "Authorization: Bearer <token>".
    metrics_token: str | None = field(default=None, repr=False)
    # Proxies whose X-Forwarded-For is believed (addresses or networks); none by default: the
    # client is the socket peer (digest/web/clientaddr.py).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True)
class ListConfig:
    name: str
    title: str


@dataclass(frozen=True)
class Config:
    path: Path | None
    root: Path
    site: SiteConfig
    sender: SenderConfig
    theme: ThemeConfig
    edition: EditionConfig
    sources: tuple[SourceConfig, ...]
    lists: Mapping[str, ListConfig]
    database_url: str
    templates_dir: Path
    user_agent: str = USER_AGENT
    secret_key: str | None = field(default=None, repr=False)
    sendgrid: SendGridConfig = SendGridConfig()
    smtp: SmtpConfig = SmtpConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    web: WebConfig = WebConfig()
    # Editors of the web app: name -> password hash (``digest editor-password`` prints one).
    editors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def list_config(self, name: str) -> ListConfig:
        """The configured list, or a plain one titled by its name (lists can live in the DB only)."""
        return self.lists.get(name) or ListConfig(name=name, title=name)

    @property
    def state_dir(self) -> Path:
        """Where local state (SQLite file, generated secret key) lives beside the database."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///")).parent
        return self.root / "var"


class _Section:
    """Reads one TOML table, remembering which keys were used so typos are reported."""

    def __init__(self, data: Any, name: str, path: Path | None):
        if not isinstance(data, dict):
            raise ConfigError("must be a table", path=path, key=name)
        self.data, self.name, self.path, self.used = data, name, path, set()

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
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(f"must be {want}, not {type(value).__name__}", path=self.path, key=full)
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
                f"unknown key(s) in {where}: {', '.join(unknown)}", path=self.path,
            )


def resolve_config_path(explicit: str | os.PathLike | None, env: Mapping[str, str]) -> Path:
    if explicit:
        return Path(explicit)
    if env.get("DIGEST_CONFIG"):
        return Path(env["DIGEST_CONFIG"])
    return Path("digest.toml")


def load_config(
    explicit: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load the config file named by ``explicit``, ``DIGEST_CONFIG`` or ``./digest.toml``."""
    env = os.environ if env is None else env
    path = resolve_config_path(explicit, env)
    if not path.is_file():
        raise ConfigError("config file not found (use --config FILE or DIGEST_CONFIG)", path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"is not valid TOML: {exc}", path=path) from None
    return parse_config(data, path=path.resolve(), env=env)


def parse_config(data: dict, *, path: Path | None, env: Mapping[str, str]) -> Config:
    root = path.parent if path else Path.cwd()
    top = _Section(data, "", path)

    s = _Section(top.get("site", dict, required=True), "site", path)
    site = SiteConfig(
        name=s.get("name", str, required=True),
        url=_url(s, "url", required=True),
        timezone=_timezone(s, path),
        locale=_locale(s, path),
        postal_address=s.get("postal_address", str, required=True),
        public_url=_url(s, "public_url", required=True).rstrip("/"),
    )
    s.finish()
    if not site.postal_address.strip():
        raise ConfigError("must not be empty (every email carries it)", path=path,
                          key="site.postal_address")

    s = _Section(top.get("sender", dict, required=True), "sender", path)
    sender = SenderConfig(
        email=s.get("email", str, required=True),
        name=s.get("name", str, ""),
        reply_to=s.get("reply_to", str, None),
        unsubscribe_mailto=s.get("unsubscribe_mailto", str, None),
    )
    s.finish()
    for key in ("email", "reply_to", "unsubscribe_mailto"):
        value = getattr(sender, key)
        if value is not None and not _plain_address(value):
            raise ConfigError(f"is not a plain email address: {value!r}", path=path,
                              key=f"sender.{key}")
        # Goes into From/Reply-To/List-Unsubscribe and the SMTP envelope as it is.
        problem = value is not None and address_problem(value)
        if problem:
            raise ConfigError(f"{value!r} {problem}", path=path, key=f"sender.{key}")
    if any(c in sender.name for c in "\r\n"):
        raise ConfigError("must be one line", path=path, key="sender.name")

    s = _Section(top.get("theme", dict, {}), "theme", path)
    theme = s.fill(ThemeConfig, fonts=MappingProxyType(dict(s.get("fonts", dict, {}))))
    s.finish()

    s = _Section(top.get("edition", dict, {}), "edition", path)
    edition = s.fill(EditionConfig)
    s.finish()
    if edition.window_hours <= 0:
        raise ConfigError("must be positive", path=path, key="edition.window_hours")
    if edition.gather_timeout <= 0:
        raise ConfigError("must be positive", path=path, key="edition.gather_timeout")
    for key in ("subject", "preheader"):
        _check_template(getattr(edition, key), path, f"edition.{key}")

    s = _Section(top.get("database", dict, {}), "database", path)
    configured_url = s.get("url", str, "sqlite:///var/digest.db")
    db_url = env.get("DIGEST_DATABASE_URL") or configured_url
    s.finish()
    db_url = _absolute_sqlite(db_url, root)

    lists = {}
    for name, table in top.get("lists", dict, {}).items():
        s = _Section(table, f"lists.{name}", path)
        lists[name] = ListConfig(name=name, title=s.get("title", str, name))
        s.finish()
        if len(lists[name].title) > LIST_TITLE_MAX:  # the lists.title column
            raise ConfigError(f"must be at most {LIST_TITLE_MAX} characters", path=path,
                              key=f"lists.{name}.title")

    sources = tuple(
        _source(entry, i, root, path) for i, entry in enumerate(top.get("sources", list, []))
    )
    names = [src.name for src in sources]
    if len(set(names)) != len(names):
        raise ConfigError("source names must be unique", path=path, key="sources")

    templates = top.get("templates_dir", str, None)
    templates_dir = (root / templates).resolve() if templates else default_templates()
    sendgrid = _sendgrid(top.get("sendgrid", dict, {}), path, env)
    smtp = _smtp(top.get("smtp", dict, {}), path, env)
    delivery = _delivery(top.get("delivery", dict, {}), path)
    web = _web(top.get("web", dict, {}), root, path, env)
    editors = top.get("editors", dict, {})
    for name, value in editors.items():
        if not isinstance(value, str) or not value.startswith("scrypt$"):
            raise ConfigError("must be a password hash from 'digest editor-password'",
                              path=path, key=f"editors.{name}")
    top.finish()

    return Config(
        path=path,
        root=root,
        site=site,
        sender=sender,
        theme=theme,
        edition=edition,
        sources=sources,
        lists=MappingProxyType(lists),
        database_url=db_url,
        templates_dir=templates_dir,
        secret_key=env.get("DIGEST_SECRET_KEY") or None,
        sendgrid=sendgrid,
        smtp=smtp,
        delivery=delivery,
        web=web,
        editors=MappingProxyType(dict(editors)),
    )


def _web(table: Any, root: Path, path: Path | None, env: Mapping[str, str]) -> WebConfig:
    s = _Section(table, "web", path)
    backend = s.get("backend", str, WebConfig.backend)
    if backend not in ("outbox", "smtp", "sendgrid"):
        raise ConfigError(f"must be 'outbox', 'smtp' or 'sendgrid', not {backend!r}", path=path,
                          key="web.backend")
    outbox = s.get("outbox_dir", str, None)
    proxies = []
    for entry in s.get("trusted_proxies", list, []):
        try:
            if not isinstance(entry, str):  # ip_network(1) would mean 0.0.0.1
                raise TypeError(entry)
            proxies.append(ip_network(entry.strip(), strict=False))
        except (TypeError, ValueError):
            raise ConfigError(f"must be a list of IP addresses or networks; {entry!r} is not "
                              "one", path=path, key="web.trusted_proxies") from None
    metrics = s.get("metrics", bool, WebConfig.metrics)
    s.finish()
    return WebConfig(backend=backend, outbox_dir=(root / outbox).resolve() if outbox else None,
                     trusted_proxies=tuple(proxies), metrics=metrics,
                     metrics_token=env.get("DIGEST_METRICS_TOKEN") or None)


def _sendgrid(table: Any, path: Path | None, env: Mapping[str, str]) -> SendGridConfig:
    s = _Section(table, "sendgrid", path)
    host = s.get("api_host", str, SendGridConfig.api_host)
    host = (env.get("SENDGRID_API_HOST") or host).rstrip("/")
    if host.endswith("/v3"):
        # The library appends /v3/mail/send itself; a host ending in /v3 would post to /v3/v3.
        raise ConfigError("give the host only, without /v3", path=path, key="sendgrid.api_host")
    if not host.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=path, key="sendgrid.api_host")
    categories = s.get("categories", list, [])
    config = s.fill(SendGridConfig, api_host=host, api_key=env.get("SENDGRID_API_KEY") or None,
                    categories=tuple(str(c) for c in categories))
    s.finish()
    if config.timeout <= 0:
        raise ConfigError("must be positive", path=path, key="sendgrid.timeout")
    return config


def _smtp(table: Any, path: Path | None, env: Mapping[str, str]) -> SmtpConfig:
    s = _Section(table, "smtp", path)
    if "password" in s.data:
        raise ConfigError("secrets do not go in the config file; set DIGEST_SMTP_PASSWORD",
                          path=path, key="smtp.password")
    security = s.get("security", str, SmtpConfig.security)
    if security not in ("starttls", "tls", "none"):
        raise ConfigError(f"must be 'starttls', 'tls' or 'none', not {security!r}", path=path,
                          key="smtp.security")
    config = s.fill(SmtpConfig, security=security,
                    port=s.get("port", int, 465 if security == "tls" else SmtpConfig.port),
                    password=env.get("DIGEST_SMTP_PASSWORD") or None)
    s.finish()
    if not 1 <= config.connections <= 32:
        raise ConfigError("must be between 1 and 32", path=path, key="smtp.connections")
    return config


def _delivery(table: Any, path: Path | None) -> DeliveryConfig:
    s = _Section(table, "delivery", path)
    config = s.fill(DeliveryConfig)
    s.finish()
    if config.batch_size is not None and not 1 <= config.batch_size <= 1000:
        raise ConfigError("must be between 1 and 1000", path=path, key="delivery.batch_size")
    for key in ("rate_per_second", "rate_per_minute"):
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


def _source(entry: Any, index: int, root: Path, path: Path | None) -> SourceConfig:
    s = _Section(entry, f"sources[{index}]", path)
    name = s.get("name", str, f"source-{index + 1}")
    s.name = f"sources.{name}"
    kind = s.get("kind", str, "auto")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"must be one of {', '.join(SOURCE_KINDS)}, not {kind!r}", path=path,
                          key=f"{s.name}.kind")
    url = s.get("url", str, None)
    file = s.get("path", str, None)
    if (url is None) == (file is None):
        raise ConfigError("give exactly one of 'url' or 'path'", path=path, key=s.name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=path, key=f"{s.name}.url")
    location = url if url is not None else str((root / file).resolve())
    role = s.get("role", str, None)
    if role is not None and role not in ROLES:
        raise ConfigError(f"must be 'ticker' or 'featured', not {role!r}", path=path,
                          key=f"{s.name}.role")
    boilerplate = s.get("boilerplate", list, list(DEFAULT_BOILERPLATE))
    if not all(isinstance(b, str) for b in boilerplate):
        raise ConfigError("must be a list of strings", path=path, key=f"{s.name}.boilerplate")
    selectors = s.get("selectors", dict, {})
    if not all(isinstance(v, str) for v in selectors.values()):
        raise ConfigError("values must be CSS selector strings", path=path,
                          key=f"{s.name}.selectors")
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


def _url(s: _Section, key: str, *, required: bool = False) -> str:
    value = s.get(key, str, required=required)
    if not value.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=s.path, key=f"{s.name}.{key}")
    return value


def _timezone(s: _Section, path: Path | None) -> str:
    name = s.get("timezone", str, required=True)
    if not is_zone(name):
        raise ConfigError(f"unknown IANA time zone {name!r}", path=path,
                          key="site.timezone") from None
    return name


def _locale(s: _Section, path: Path | None) -> str:
    name = s.get("locale", str, required=True)
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        raise ConfigError(f"unknown locale {name!r}", path=path, key="site.locale") from None
    return name


def _check_template(template: str, path: Path | None, key: str) -> None:
    try:
        template.format(site="", date="", top="", list="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"bad placeholder {exc}; use {{site}}, {{date}}, {{top}} or {{list}}", path=path,
            key=key,
        ) from None


def _plain_address(value: str) -> bool:
    return "@" in value and not any(c in value for c in " \r\n<>,;\"")


def _absolute_sqlite(url: str, root: Path) -> str:
    """``sqlite:///var/digest.db`` in a config means relative to the config file."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url.removeprefix(prefix)
        if rest and rest != ":memory:":
            return prefix + str((root / rest).resolve())
    return url
