"""The frozen configuration: one dataclass per section of digest.toml, and Config holding them.
Read once (digest.config.read) and passed down; nothing here reads a file or the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from digest import __version__
from digest.zones import zone

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
    # The top story sells the email in the inbox; the sender's name is already shown there.
    subject: str = "{top}"
    preheader: str = "{top} {briefs}"
    # Per locale ("ar", "fr_MA"), when digest.toml gives subject/preheader as a table; a
    # locale not named there uses ``subject``/``preheader`` above.
    subjects: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    preheaders: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_html_bytes: int = 100_000
    gather_timeout: float = 30.0  # seconds for reading every source (each has its own timeout)
    featured_paragraphs: int = 1  # the lede: 0 = headline only
    duplicate_threshold: float = 0.75  # token-set similarity above which two titles are one story


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
    api_host: str = (
        "https://api.sendgrid.com"  # SENDGRID_API_HOST overrides; EU: api.eu.sendgrid.com
    )
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
    # A sender's lease (digest/store/workers.py): renewed every sixth of it by a thread while
    # the sender lives; a sender silent for longer is dead and its batch in flight unknown.
    lease_seconds: float = 90.0
    # How long a send (or the scheduler) keeps retrying a database that does not answer.
    database_retry_seconds: float = 60.0


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
class TrackingConfig:
    """digest's own open pixel and click redirect, for SMTP and outbox sends (SendGrid tracks
    on its own): both off unless asked for."""

    opens: bool = False
    clicks: bool = False
    # A pixel fetched this soon after the send is a machine's (Apple Mail Privacy Protection
    # fetches every image on arrival), not a reader's.
    prefetch_seconds: int = 60


@dataclass(frozen=True)
class ListConfig:
    """One ``[lists.NAME]``: what it does not set comes from the site (see ``variant_config``)."""

    name: str
    title: str
    locale: str | None = None  # the list's default locale; None: site.locale
    # The locales the list offers its readers; None: every language digest has strings for.
    locales: tuple[str, ...] | None = None
    sources: tuple[SourceConfig, ...] | None = None  # None: the site's [[sources]]
    # [lists.NAME.variants.LOCALE] sources: that variant's own stories (an Arabic feed).
    locale_sources: Mapping[str, tuple[SourceConfig, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    locale_titles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    subjects: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # "": all
    preheaders: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    templates_dir: Path | None = None
    sender: SenderConfig | None = None
    theme: ThemeConfig | None = None


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
    tracking: TrackingConfig = TrackingConfig()
    # Editors of the web app: name -> password hash (``digest editor-password`` prints one).
    editors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    # name -> "editor" (content, approval, test send) or "admin" (also send control, the
    # audience, accounts and tokens): ``[editors.NAME] role = "admin"``; a plain entry is an editor.
    editor_roles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # [editor_emails] name = "address": who is mailed when a draft waits for approval.
    editor_emails: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def list_config(self, name: str) -> ListConfig:
        """The configured list, or a plain one titled by its name (lists can live in the DB only)."""
        return self.lists.get(name) or ListConfig(name=name, title=name)

    @property
    def state_dir(self) -> Path:
        """Where local state (SQLite file, generated secret key) lives beside the database."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///")).parent
        return self.root / "var"
