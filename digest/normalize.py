"""One spelling for what a subscriber gives: an email address (and the key that compares two),
a locale, a time zone. Used wherever they enter: CSV, forms, webhooks, the config."""

from __future__ import annotations

import functools
import re

from email_validator import EmailNotValidError, EmailSyntaxError, validate_email

from digest.headers import ENCODED_WORD_IN_ADDRESS
from digest.zones import NAME_MAX as TIMEZONE_MAX
from digest.zones import available

# Language, optional script, optional region: fr, ar, fr_MA, fr-ma, zh_Hant_TW, es_419.
_LOCALE = re.compile(r"([a-z]{2,3})(?:[-_]([a-z]{4}))?(?:[-_]([a-z]{2}|[0-9]{3}))?", re.I)


def normalize_locale(value: str | None) -> str | None:
    """'fr-ma' -> 'fr_MA', 'AR' -> 'ar'; '' -> None; None for anything that is not a locale."""
    match = _LOCALE.fullmatch((value or "").strip())
    if not match:
        return None
    language, script, region = match.groups()
    parts = (
        [language.lower()]
        + ([script.title()] if script else [])
        + ([region.upper()] if region else [])
    )
    return "_".join(parts)


@functools.cache
def _time_zones() -> dict[str, str]:
    return {name.casefold(): name for name in available()}


def normalize_timezone(value: str | None) -> str | None:
    """The IANA name (``Africa/Casablanca``, any case) as the tzdata package spells it; None
    otherwise (the package's list of zones, the one source digest.zones loads from)."""
    value = (value or "").strip()
    if not value or len(value) > TIMEZONE_MAX:
        return None
    return _time_zones().get(value.casefold())


# RFC 5322 dot-atom, the same character set email_validator accepts without further checks.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"


_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")


_EMAIL_MAX = 254


# Local parts email_validator lower-cases (RFC 2142 role mailboxes): leave them to it.
_ROLE_MAILBOXES = frozenset(
    {
        "info",
        "marketing",
        "sales",
        "support",
        "abuse",
        "noc",
        "security",
        "postmaster",
        "hostmaster",
        "usenet",
        "news",
        "webmaster",
        "www",
        "uucp",
        "ftp",
    }
)


def normalize_email(address: str) -> str:
    """email_validator's normalised form of ``address``; raises EmailNotValidError.

    Fast path, because validation dominates a 100k-row import and nearly all of its cost is
    the domain check, while a list holds few distinct domains: a plain ASCII local part (which
    email_validator accepts unchanged) is joined to the domain validated once and cached. Any
    other address, and every invalid one (for the exact message), goes through
    email_validator itself. tests/store/test_csvio.py checks both paths agree.
    """
    if "=?" in address:  # email_validator accepts "=?utf-8?b?...?=@x.org"; headers decode it
        raise EmailSyntaxError(f"The email address {ENCODED_WORD_IN_ADDRESS}.")
    local, at, domain = address.partition("@")
    if (
        at
        and domain.isascii()
        and _DOT_ATOM.fullmatch(local)
        and local.lower() not in _ROLE_MAILBOXES
        and len(address) <= _EMAIL_MAX
    ):
        checked = _checked_domain(domain)
        if checked is not None:
            normalized_domain, ascii_domain = checked
            if max(len(normalized_domain), len(ascii_domain)) + len(local) + 1 <= _EMAIL_MAX:
                return f"{local}@{normalized_domain}"
    return validate_email(address, check_deliverability=False).normalized


@functools.lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    try:
        result = validate_email("x@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.domain, result.ascii_domain


def email_key(address: str) -> str:
    """The identity of an address: its normalised form, lower-cased (``subscribers.email_key``).

    Addresses email_validator refuses (they may come from a bounce webhook) still get a key,
    plainly lower-cased, so they can be suppressed and looked up.
    """
    address = address.strip()
    try:
        return normalize_email(address).lower()
    except EmailNotValidError:
        return address.lower()
