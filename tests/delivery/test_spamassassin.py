"""SpamAssassin's local rules on the messages the outbox writes for the sample edition.

``spamassassin -L -t -p /dev/null``: local tests only (no DNS blocklists, no Razor/Pyzor: the
machine is offline and their answers would change with the day), test mode (the report, nothing
learnt), no personal preferences (a developer's ~/.spamassassin/user_prefs would move scores).
Five points is SpamAssassin's own spam threshold; a newsletter should sit far below it, so each
message must score at most 1.0. A failure prints every rule that fired, with its points.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from email import message_from_bytes
from email.policy import default

import pytest

from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.edition.build import edition_for_send
from digest.store.csvio import read_subscriber_csv
from digest.store.subscribers import import_subscribers
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW
from tests.tools import program

MAX_SCORE = 1.0
READERS = "email,name,locale\namina.benali@example.com,Amina Benali,\nomar@example.org,,\n"
_SCORE = re.compile(r"^X-Spam-Status: \w+, score=(-?\d+(?:\.\d+)?)", re.MULTILINE)
_RULE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s+(.*)$")


def fired(report: str) -> list[str]:
    """The rules of the report's "Content analysis details" table, each "points NAME text"."""
    table = report.split("Content analysis details:", 1)[-1].split("\n\n\n", 1)[0]
    return [" ".join(m.groups()) for line in table.splitlines() if (m := _RULE.match(line))]


def spamassassin(eml: bytes) -> tuple[float, str]:
    proc = subprocess.run(
        [program("spamassassin", "spamassassin"), "-L", "-t", "-p", os.devnull],
        input=eml,
        capture_output=True,
        timeout=180,
    )
    out = proc.stdout.decode("utf-8", "replace")
    match = _SCORE.search(out)
    assert match, f"no X-Spam-Status in SpamAssassin's answer: {out[:2000]}" + (
        proc.stderr.decode("utf-8", "replace")
    )
    return float(match.group(1)), out


def outbox_messages(config, db, out) -> list[bytes]:
    import_subscribers(db, "matinale", read_subscriber_csv(READERS.encode("utf-8")))
    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW)
    )
    report = deliver(config, db, stored, OutboxBackend(out), signer=TokenSigner("k" * 40))
    assert report.sent == 2
    return [p.read_bytes() for p in sorted(out.glob("*.eml"))]


@pytest.fixture(params=["fr", "ar"])
def locale_site(request, site):
    """The sample site in French (samples/homepage-fr.txt) or Arabic (its twin in fixtures)."""
    if request.param == "ar":
        text = site.read_text(encoding="utf-8").replace('locale = "fr"', 'locale = "ar"')
        text = re.sub(
            r'path = ".*homepage-fr.txt"',
            f'path = "{ROOT / "tests" / "fixtures" / "homepage-ar.txt"}"',
            text,
        )
        site.write_text(text, encoding="utf-8")
    return site


def sample_messages(site, out) -> list[bytes]:
    from digest.config import load_config
    from digest.store.db import open_database

    program("spamassassin", "spamassassin")  # before sending: skip (or fail) early
    config = load_config(site, env={})
    db = open_database(config.database_url)
    try:
        return outbox_messages(config, db, out)
    finally:
        db.close()


def test_the_sample_edition_scores_low(locale_site, tmp_path):
    for eml in sample_messages(locale_site, tmp_path / "outbox"):
        score, report = spamassassin(eml)
        assert score <= MAX_SCORE, f"score {score} > {MAX_SCORE}:\n" + "\n".join(fired(report))
        assert fired(report), report  # the report was read: at least HTML_MESSAGE fires


def test_a_message_without_date_and_message_id_scores_high(site, tmp_path):
    """The check can fail: the same message with two required headers removed scores over 1."""
    msg = message_from_bytes(sample_messages(site, tmp_path / "outbox")[0], policy=default)
    del msg["Date"], msg["Message-ID"]
    score, report = spamassassin(msg.as_bytes())
    assert score > MAX_SCORE, report
    names = {line.split()[1] for line in fired(report)}
    assert {"MISSING_DATE", "MISSING_MID"} <= names, names
