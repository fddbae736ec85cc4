"""No word in a template reaches a reader without the catalogs: text and the attributes people
read (title, alt, aria-label, placeholder) must come from {% trans %} or _(), in the web app's
pages and in the email templates (which take their words from ``s``, digest/render/strings.py).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(
    [*(ROOT / "digest" / "web" / "templates").glob("*.html"), *(ROOT / "templates").rglob("*.j2")]
)
READ_ATTRIBUTES = {"title", "alt", "aria-label", "placeholder"}
SKIPPED_ELEMENTS = {"style", "script", "mj-style", "mj-attributes"}  # CSS, not words
LETTER = re.compile(r"[^\W\d_]")
# Words a person reads that are the same in every language.
ALLOWED = {"px"}
GETTEXT = {"_", "gettext", "ngettext", "pgettext", "npgettext"}


def _without_jinja(source: str) -> str:
    """The template's own markup and text: translated blocks, expressions, tags and comments
    replaced by a space."""
    source = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", " ", source, flags=re.S)
    return re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", source, flags=re.S)


class _Words(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_ELEMENTS:
            self.skipping += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag):
        if tag in SKIPPED_ELEMENTS:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self._check(data)

    def _check(self, text):
        for word in text.split():
            if LETTER.search(word) and word not in ALLOWED:
                self.found.append(word)


def _literal_words(template: Path) -> list[str]:
    """String constants in expressions that read as words ('Pin', 'In brief'), outside a
    gettext call; identifiers such as 'unpin' or 'ok' (values, CSS classes) are not words."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    tree = env.parse(template.read_text(encoding="utf-8"))
    inside = set()
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in GETTEXT:
            inside |= {id(c) for c in call.find_all(nodes.Const)}
    words = []
    for const in tree.find_all(nodes.Const):
        value = const.value
        if not isinstance(value, str) or id(const) in inside:
            continue
        if re.search(r"[A-Z][a-z]|[^\W\d_]\s+[^\W\d_]", value) and not value.endswith(
            (".html", ".j2")
        ):
            words.append(value)
    return words


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_word_escapes_the_catalogs(template):
    parser = _Words()
    parser.feed(_without_jinja(template.read_text(encoding="utf-8")))
    assert not parser.found, f"{template.name}: words outside {{% trans %}} / _(): {parser.found}"
    literal = _literal_words(template)
    assert not literal, f"{template.name}: words in expressions outside _(): {literal}"


def test_the_check_finds_a_word_left_out(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '<h1>{{ _("Archive") }}</h1><p title="Hello">{% trans %}One {{ x }}{% endtrans %}</p>'
        "<p>Left out</p>{{ 'Also left' if x else _('Not this') }}",
        encoding="utf-8",
    )
    parser = _Words()
    parser.feed(_without_jinja(page.read_text(encoding="utf-8")))
    assert parser.found == ["Hello", "Left", "out"]
    assert _literal_words(page) == ["Also left"]
