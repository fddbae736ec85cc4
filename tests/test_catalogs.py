"""The catalogs hold every message the code and the templates show, translated.

Messages are extracted from the sources the way ``pybabel extract -F babel.cfg`` does (Babel's
own API, the same mapping file), so a string added to a page or to the code without a catalog
entry, or a catalog left behind by a change of wording, fails here with its msgid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from digest.i18n import LOCALES_DIR, translations

ROOT = Path(__file__).resolve().parents[1]
TRANSLATED = ("fr", "ar")  # every message must read in these; English is the msgids
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}|<[^>]+>")


def _extracted() -> dict:
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        # parse_mapping_cfg since Babel 2.16; parse_mapping (deprecated since) before it.
        parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
        method_map, options_map = parse(fh, str(ROOT / "babel.cfg"))
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None}
    ):
        key = (message if isinstance(message, str) else tuple(message), context)
        found.setdefault(key, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def extracted():
    return _extracted()


def _catalog(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


def _keys(catalog) -> set:
    return {(m.id, m.context) for m in catalog if m.id}


def test_extraction_finds_the_pages_the_emails_and_the_code(extracted):
    msgids = {m for m, _ in extracted}
    # One from each kind of source: a web template, Python code, an N_ mark, a plural.
    assert "Your subscriptions" in msgids  # digest/web/templates/preferences.html
    assert "Check your inbox" in msgids  # digest/web/subscribers.py
    assert "Read more" in msgids  # digest/render/strings.py, N_()
    assert ("+ {n} brief", "+ {n} briefs") in msgids
    assert len(msgids) > 100


@pytest.mark.parametrize("name", ["digest.pot", "fr", "ar", "en"])
def test_the_catalogs_are_in_sync_with_the_sources(extracted, name):
    path = LOCALES_DIR / (name if name.endswith(".pot") else f"{name}/LC_MESSAGES/digest.po")
    keys = _keys(_catalog(path))
    missing = {k: where for k, where in extracted.items() if k not in keys}
    assert not missing, (
        f"{path.name} ({name}) lacks these messages; run the pybabel extract/update commands in "
        f"README (Languages): {missing}"
    )
    stale = keys - set(extracted)
    assert not stale, f"{name} holds messages no source uses any more: {sorted(map(str, stale))}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated(lang):
    catalog = _catalog(LOCALES_DIR / lang / "LC_MESSAGES" / "digest.po")
    untranslated, fuzzy, changed = [], [], []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        forms = catalog.num_plurals if isinstance(m.id, tuple) else 1
        if len(strings) != forms or not all(s and s.strip() for s in strings):
            untranslated.append(m.id)
        if m.fuzzy:
            fuzzy.append(m.id)
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            # A translation keeps every value and tag of its msgid (Arabic's "one" form may
            # spell the number out, so a plural's forms may drop {n}).
            got = set(PLACEHOLDER.findall(s or ""))
            if got != wanted and not (isinstance(m.id, tuple) and got <= wanted):
                changed.append((m.id, s))
    assert not untranslated, f"{lang}: untranslated: {untranslated}"
    assert not fuzzy, f"{lang}: fuzzy (compiled catalogs leave them out): {fuzzy}"
    assert not changed, f"{lang}: placeholders differ from the msgid's: {changed}"


def test_the_catalogs_are_what_the_code_reads():
    assert translations("fr").gettext("Check your inbox") == "Consultez votre boîte de réception"
    assert translations("fr_MA").gettext("Check your inbox") == "Consultez votre boîte de réception"
    assert translations("ar").gettext("Unsubscribe") == "إلغاء الاشتراك"
    assert translations("de").gettext("Unsubscribe") == "Unsubscribe"  # no catalog: English
    assert translations("../../etc").gettext("Unsubscribe") == "Unsubscribe"
