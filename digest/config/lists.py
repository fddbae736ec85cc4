"""``[lists.NAME]``: a list's own sources, default locale, subject and preheader (per locale),
templates, sender and theme; and ``variant_config``, the site's Config as one list's variant in
one locale sees it (what the list does not set comes from the site)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from digest.config.model import LIST_TITLE_MAX, Config, ListConfig, SourceConfig
from digest.config.section import Section, check_locale, check_sender, check_template, overlay
from digest.config.tables import source_entry
from digest.errors import ConfigError


def localized_templates(
    s: Section, key: str, default: str | None
) -> tuple[str | None, dict[str, str]]:
    """``subject = "..."`` (every locale) or ``subject = {fr = "...", ar = "..."}``: returns
    (the one string or ``default``, {locale: template}), each template checked."""
    value = s.get(key, (str, dict), default)
    full = f"{s.name}.{key}"
    if isinstance(value, str) or value is None:
        if value is not None:
            check_template(value, s.path, full)
        return value, {}
    table: dict[str, str] = {}
    for locale, template in value.items():
        if not isinstance(template, str):
            raise ConfigError("must be a string", path=s.path, key=f"{full}.{locale}")
        check_locale(locale, s.path, f"{full}.{locale}")
        check_template(template, s.path, f"{full}.{locale}")
        table[locale] = template
    return None, table


def pick(table: Mapping[str, str], locale: str) -> str | None:
    """The template for ``locale``: exact (fr_MA), then its language (fr)."""
    lang = locale.replace("-", "_").split("_", 1)[0]
    return table.get(locale) or table.get(lang)


def list_table(
    name: str,
    table: Any,
    *,
    root: Path,
    path: Path | None,
    named: Mapping[str, SourceConfig],
    site: Config,
) -> ListConfig:
    """One [lists.NAME], checked; every error names the list and the key."""
    s = Section(table, f"lists.{name}", path)
    title = s.get("title", str, name)
    if len(title) > LIST_TITLE_MAX:  # the lists.title column
        raise ConfigError(
            f"must be at most {LIST_TITLE_MAX} characters", path=path, key=f"lists.{name}.title"
        )
    locale = s.get("locale", str, None)
    if locale is not None:
        check_locale(locale, path, f"lists.{name}.locale")
    locales = s.get("locales", list, None)
    if locales is not None:
        for i, entry in enumerate(locales):
            if not isinstance(entry, str):
                raise ConfigError("must be a list of locales", path=path, key=f"{s.name}.locales")
            check_locale(entry, path, f"{s.name}.locales[{i}]")
        default = locale or site.site.locale
        locales = [default, *(x for x in locales if x != default)]
    sources = s.get("sources", list, None)
    own = None if sources is None else _sources(sources, f"{s.name}.sources", root, path, named)
    by_locale, titles = {}, {}
    for loc, entry in s.get("variants", dict, {}).items():
        v = Section(entry, f"{s.name}.variants.{loc}", path)
        check_locale(loc, path, v.name)
        if "sources" in v.data:
            by_locale[loc] = _sources(
                v.get("sources", list), f"{v.name}.sources", root, path, named
            )
        if "title" in v.data:
            titles[loc] = v.get("title", str)
            if len(titles[loc]) > LIST_TITLE_MAX:
                raise ConfigError(
                    f"must be at most {LIST_TITLE_MAX} characters", path=path, key=f"{v.name}.title"
                )
        v.finish()
    if locales is not None:
        for loc in by_locale.keys() | titles.keys():
            if loc not in locales:
                raise ConfigError(
                    f"names a locale the list does not offer (lists.{name}.locales: "
                    f"{', '.join(locales)})",
                    path=path,
                    key=f"{s.name}.variants.{loc}",
                )
    one_subject, subjects = localized_templates(s, "subject", None)
    one_preheader, preheaders = localized_templates(s, "preheader", None)
    if one_subject is not None:
        subjects[""] = one_subject
    if one_preheader is not None:
        preheaders[""] = one_preheader
    templates = s.get("templates_dir", str, None)
    sender = None
    if "sender" in s.data:
        sender = overlay(Section(s.get("sender", dict), f"{s.name}.sender", path), site.sender)
        check_sender(sender, path, f"{s.name}.sender")
    theme = None
    if "theme" in s.data:
        t = Section(s.get("theme", dict), f"{s.name}.theme", path)
        fonts = t.get("fonts", dict, None)
        theme = overlay(t, site.theme, skip=("fonts",))
        if fonts is not None:
            theme = replace(theme, fonts=MappingProxyType(dict(fonts)))
    s.finish()
    return ListConfig(
        name=name,
        title=title,
        locale=locale,
        locales=tuple(locales) if locales is not None else None,
        sources=own,
        locale_sources=MappingProxyType(by_locale),
        locale_titles=MappingProxyType(titles),
        subjects=MappingProxyType(subjects),
        preheaders=MappingProxyType(preheaders),
        templates_dir=(root / templates).resolve() if templates else None,
        sender=sender,
        theme=theme,
    )


def _sources(
    entries: list,
    key: str,
    root: Path,
    path: Path | None,
    named: Mapping[str, SourceConfig],
) -> tuple[SourceConfig, ...]:
    """A list of source names (of [[sources]] entries) and/or inline source tables."""
    out = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            if entry not in named:
                known = ", ".join(sorted(named)) or "none"
                raise ConfigError(
                    f"names no [[sources]] entry {entry!r} (known: {known})", path=path, key=key
                )
            out.append(named[entry])
        else:
            out.append(source_entry(entry, i, root, path, prefix=key))
    names = [src.name for src in out]
    if len(set(names)) != len(names):
        raise ConfigError("source names must be unique", path=path, key=key)
    if not out:
        raise ConfigError("must name at least one source", path=path, key=key)
    return tuple(out)


def list_locale(config: Config, list_name: str) -> str:
    """The list's default locale: its own, else the site's."""
    return config.list_config(list_name).locale or config.site.locale


def variant_config(config: Config, list_name: str, locale: str | None = None) -> Config:
    """The Config one list's edition in ``locale`` is built, rendered and sent with: the list's
    settings over the site's, and the locale's sources and templates. With ``locale`` None, the
    list's default locale. A list that sets nothing gets the site's Config with its locale."""
    lc = config.list_config(list_name)
    locale = locale or lc.locale or config.site.locale
    lang = locale.replace("-", "_").split("_", 1)[0]
    edition = config.edition
    subject = (
        pick(lc.subjects, locale)
        or lc.subjects.get("")
        or pick(edition.subjects, locale)
        or edition.subject
    )
    preheader = (
        pick(lc.preheaders, locale)
        or lc.preheaders.get("")
        or pick(edition.preheaders, locale)
        or edition.preheader
    )
    sources = (
        lc.locale_sources.get(locale) or lc.locale_sources.get(lang) or lc.sources or config.sources
    )
    title = pick(lc.locale_titles, locale)
    lists = config.lists
    if title:  # the list as this variant names it (in the footer, the header and the subject)
        lists = MappingProxyType({**config.lists, list_name: replace(lc, title=title)})
    return replace(
        config,
        lists=lists,
        site=replace(config.site, locale=locale),
        edition=replace(edition, subject=subject, preheader=preheader),
        sources=sources,
        sender=lc.sender or config.sender,
        theme=lc.theme or config.theme,
        templates_dir=lc.templates_dir or config.templates_dir,
    )


def has_own_sources(config: Config, list_name: str, locale: str) -> bool:
    """Whether the variant in ``locale`` reads other sources than the list's default variant."""
    default = variant_config(config, list_name)
    return variant_config(config, list_name, locale).sources != default.sources
