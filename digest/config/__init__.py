"""Settings, loaded once from digest.toml and the environment into one frozen ``Config``.

model.py holds the frozen dataclasses (one per section), read.py the one reader (file lookup,
environment, validation), section.py the typed getters every section uses, tables.py the
sections with rules of their own. Callers import from here.
"""

from digest.config.model import (
    DEFAULT_BOILERPLATE,
    LIST_TITLE_MAX,
    ROLES,
    SOURCE_KINDS,
    USER_AGENT,
    Config,
    DeliveryConfig,
    EditionConfig,
    ListConfig,
    SenderConfig,
    SendGridConfig,
    SiteConfig,
    SmtpConfig,
    SourceConfig,
    ThemeConfig,
    TrackingConfig,
    WebConfig,
)
from digest.config.read import load_config, parse_config, resolve_config_path
from digest.config.tables import source_from_location

__all__ = [
    "DEFAULT_BOILERPLATE",
    "LIST_TITLE_MAX",
    "ROLES",
    "SOURCE_KINDS",
    "USER_AGENT",
    "Config",
    "DeliveryConfig",
    "EditionConfig",
    "ListConfig",
    "SenderConfig",
    "SendGridConfig",
    "SiteConfig",
    "SmtpConfig",
    "SourceConfig",
    "ThemeConfig",
    "TrackingConfig",
    "WebConfig",
    "load_config",
    "parse_config",
    "resolve_config_path",
    "source_from_location",
]
