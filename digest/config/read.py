"""Settings, loaded once from TOML and the environment into frozen objects.

This is the only module that reads the config file or the environment. Everything else gets
a ``Config`` passed down. Lookup order for the file: ``--config FILE``, then ``DIGEST_CONFIG``,
then ``./digest.toml``. Relative paths inside the file are relative to the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from digest.config.lists import list_table, localized_templates, pick
from digest.config.model import (
    Config,
    EditionConfig,
    SenderConfig,
    SiteConfig,
    ThemeConfig,
)
from digest.config.section import (
    Section,
    check_sender,
    check_template,
    locale_key,
    timezone_key,
    url_key,
)
from digest.config.tables import (
    delivery_table,
    editors_table,
    sendgrid_table,
    smtp_table,
    source_entry,
    tracking_table,
    web_table,
)
from digest.errors import ConfigError
from digest.headers import address_problem
from digest.resources import default_templates


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
    top = Section(data, "", path)

    s = Section(top.get("site", dict, required=True), "site", path)
    site = SiteConfig(
        name=s.get("name", str, required=True),
        url=url_key(s, "url", required=True),
        timezone=timezone_key(s, path),
        locale=locale_key(s, path),
        postal_address=s.get("postal_address", str, required=True),
        public_url=url_key(s, "public_url", required=True).rstrip("/"),
    )
    s.finish()
    if not site.postal_address.strip():
        raise ConfigError(
            "must not be empty (every email carries it)", path=path, key="site.postal_address"
        )

    s = Section(top.get("sender", dict, required=True), "sender", path)
    sender = SenderConfig(
        email=s.get("email", str, required=True),
        name=s.get("name", str, ""),
        reply_to=s.get("reply_to", str, None),
        unsubscribe_mailto=s.get("unsubscribe_mailto", str, None),
    )
    s.finish()
    check_sender(sender, path, "sender")

    s = Section(top.get("theme", dict, {}), "theme", path)
    theme = s.fill(ThemeConfig, fonts=MappingProxyType(dict(s.get("fonts", dict, {}))))
    s.finish()

    s = Section(top.get("edition", dict, {}), "edition", path)
    subject, subjects = localized_templates(s, "subject", EditionConfig.subject)
    preheader, preheaders = localized_templates(s, "preheader", EditionConfig.preheader)
    edition = s.fill(
        EditionConfig,
        # A table's entry for the site's locale is the default of every locale it does not name.
        subject=subject or pick(subjects, site.locale) or EditionConfig.subject,
        preheader=preheader or pick(preheaders, site.locale) or EditionConfig.preheader,
        subjects=MappingProxyType(subjects),
        preheaders=MappingProxyType(preheaders),
    )
    s.finish()
    if edition.window_hours <= 0:
        raise ConfigError("must be positive", path=path, key="edition.window_hours")
    if edition.gather_timeout <= 0:
        raise ConfigError("must be positive", path=path, key="edition.gather_timeout")
    if edition.featured_paragraphs < 0:
        raise ConfigError("must be 0 or more", path=path, key="edition.featured_paragraphs")
    if not 0 < edition.duplicate_threshold <= 1:
        raise ConfigError(
            "must be above 0 and at most 1", path=path, key="edition.duplicate_threshold"
        )
    for key in ("subject", "preheader"):
        check_template(getattr(edition, key), path, f"edition.{key}")

    s = Section(top.get("database", dict, {}), "database", path)
    configured_url = s.get("url", str, "sqlite:///var/digest.db")
    db_url = env.get("DIGEST_DATABASE_URL") or configured_url
    s.finish()
    db_url = _absolute_sqlite(db_url, root)

    sources = tuple(
        source_entry(entry, i, root, path) for i, entry in enumerate(top.get("sources", list, []))
    )
    names = [src.name for src in sources]
    if len(set(names)) != len(names):
        raise ConfigError("source names must be unique", path=path, key="sources")

    # Lists read last: they may name [[sources]] entries and overlay [sender] and [theme].
    site_wide = Config(
        path=path,
        root=root,
        site=site,
        sender=sender,
        theme=theme,
        edition=edition,
        sources=sources,
        lists=MappingProxyType({}),
        database_url=db_url,
        templates_dir=root,
    )
    named = {src.name: src for src in sources}
    lists = {
        name: list_table(name, table, root=root, path=path, named=named, site=site_wide)
        for name, table in top.get("lists", dict, {}).items()
    }

    templates = top.get("templates_dir", str, None)
    templates_dir = (root / templates).resolve() if templates else default_templates()
    sendgrid = sendgrid_table(top.get("sendgrid", dict, {}), path, env)
    smtp = smtp_table(top.get("smtp", dict, {}), path, env)
    delivery = delivery_table(top.get("delivery", dict, {}), path)
    web = web_table(top.get("web", dict, {}), root, path, env)
    tracking = tracking_table(top.get("tracking", dict, {}), path)
    editors, editor_roles = editors_table(top.get("editors", dict, {}), path)
    editor_emails = top.get("editor_emails", dict, {})
    for name, value in editor_emails.items():
        problem = (
            "must be an email address"
            if not isinstance(value, str) or "@" not in value
            else address_problem(value)
        )
        if problem:
            raise ConfigError(
                problem if problem.startswith("must") else f"{value!r} {problem}",
                path=path,
                key=f"editor_emails.{name}",
            )
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
        tracking=tracking,
        editors=MappingProxyType(editors),
        editor_roles=MappingProxyType(editor_roles),
        editor_emails=MappingProxyType(dict(editor_emails)),
    )


def _absolute_sqlite(url: str, root: Path) -> str:
    """``sqlite:///var/digest.db`` in a config means relative to the config file."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url.removeprefix(prefix)
        if rest and rest != ":memory:":
            return prefix + str((root / rest).resolve())
    return url
