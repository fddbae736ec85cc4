"""Each header source, entered the way the project takes it in, up to one send job.

Every function takes a hostile value and returns ``(job, subscriber)`` ready for any backend,
or raises ``Refused`` when the entry point itself turned the value away (then with its reason).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import tomllib
from datetime import datetime
from functools import lru_cache

from digest.config import Config, parse_config
from digest.delivery.base import SendJob
from digest.delivery.job import RecipientFactory, make_job
from digest.edition import edits
from digest.edition.collect import make_edition
from digest.errors import ConfigError
from digest.models import Rendered, SourceResult, Story, Subscriber
from digest.store.csvio import read_subscriber_csv
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW

EMAIL = "reader@example.org"
REF = datetime.fromisoformat(SAMPLE_NOW)
SIGNER = TokenSigner("k" * 40)


class Refused(Exception):
    """The entry point refused the value (a clear reason is the expected outcome)."""


@lru_cache(maxsize=1)
def _toml() -> str:
    return (ROOT / "digest.toml").read_text(encoding="utf-8")


def config_with(**tables) -> Config:
    """The project's digest.toml with some keys replaced, through the real parser."""
    data = tomllib.loads(_toml())
    for dotted, value in tables.items():
        *path, key = dotted.split("__")
        node = data
        for part in path:
            node = node.setdefault(part, {})
        node[key] = value
    try:
        return parse_config(data, path=ROOT / "digest.toml", env={})
    except ConfigError as exc:
        raise Refused(str(exc)) from None


@lru_cache(maxsize=1)
def _rendered() -> Rendered:
    from digest.edition.build import build_edition

    config = config_with()
    return build_edition(config, list_name="matinale", now=REF).rendered


def _job(
    config: Config,
    headline: str = "Le Maroc et la France renforcent leur coopération",
    edit_subject: str | None = None,
) -> SendJob:
    story = Story(title=headline, role="featured", source="homepage")
    edition = make_edition(
        config,
        [SourceResult(name="homepage", stories=(story,))],
        list_name="matinale",
        reference_time=REF,
    )
    if edit_subject is not None:
        edition = edits.apply(edition, {"subject": edit_subject})
    # The rendering carries the edition's subject (digest/render/pipeline.py); the bodies of
    # the sample edition are rendered once for every test.
    return make_job(config, edition, dataclasses.replace(_rendered(), subject=edition.subject))


def recipient_for(job: SendJob, subscriber: Subscriber):
    """The subscriber's Recipient as the send loop makes it (signed links, Message-ID)."""
    return RecipientFactory(config_with(), job, SIGNER)(subscriber)


def headline(value):
    """A feed headline, with the subject template "{top}"."""
    return _job(config_with(edition__subject="{top}"), headline=value), Subscriber(1, EMAIL)


def subject_template(value):
    """[edition] subject in the config file."""
    if "{" in value or "}" in value:
        raise AssertionError("a template value needs its braces escaped")
    return _job(config_with(edition__subject=value)), Subscriber(1, EMAIL)


def editor_subject(value):
    """The editor's subject override (edits.clean, as the draft page stores it)."""
    return _job(config_with(), edit_subject=value), Subscriber(1, EMAIL)


def csv_name(value):
    """A subscriber's name from an imported CSV file."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows([["email", "name"], [EMAIL, value]])
    result = read_subscriber_csv(buf.getvalue().encode("utf-8"))
    if result.rejected:
        raise Refused(result.rejected[0].reason)
    [row] = result.rows
    return _job(config_with()), Subscriber(1, row.email, name=row.name)


def sender_name(value):
    """[sender] name in the config file."""
    return _job(config_with(sender__name=value)), Subscriber(1, EMAIL, name="Amina")


def list_title(value):
    """[lists.matinale] title in the config file (it becomes List-Id)."""
    return _job(config_with(lists__matinale__title=value)), Subscriber(1, EMAIL, name="Amina")


SOURCES = {
    f.__name__: f
    for f in (headline, subject_template, editor_subject, csv_name, sender_name, list_title)
}
