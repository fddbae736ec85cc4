"""axe-core, the accessibility engine, run in Chromium on the email as a reader opens it.

French and Arabic, light and dark, images shown and blocked (their alt text then shows, styled):
no violation of WCAG 2.x A/AA or of axe's best practices, except two rules about a whole web
page that an email cannot meet: ``landmark-one-main`` and ``region`` ask for a ``main``
landmark around everything, but a webmail shows the email inside its own page, which has its
``main`` already; a second one from the email would be wrong there. MJML's ``role="article"``
wrapper is what email accessibility guides recommend instead.
"""

from __future__ import annotations

import re

import pytest

from tests.tools import missing, node_file

from .reader import open_email
from .samples import sample_html

PAGE_ONLY_RULES = ("landmark-one-main", "region")
RUN = """async (disabled) => {
  const rules = Object.fromEntries(disabled.map((id) => [id, {enabled: false}]));
  const result = await axe.run(document, {rules, resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => [n.target.join(' '), n.failureSummary]),
  }));
}"""


@pytest.fixture(scope="module")
def axe_source():
    return node_file("axe-core/axe.min.js", "axe-core").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from digest.errors import DigestError
    from digest.web.screenshot import chromium_path, launch

    try:
        chromium_path()
    except DigestError as exc:
        missing(str(exc))
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def violations(browser, axe_source, html, *, width=375, dark=False, images=True):
    page = open_email(browser, html, width, dark=dark, images=images)
    try:
        page.add_script_tag(content=axe_source)
        return page.evaluate(RUN, list(PAGE_ONLY_RULES))
    finally:
        page.close()


@pytest.mark.parametrize("locale", ["fr", "ar"])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_no_accessibility_violation(browser, axe_source, locale, dark):
    html = sample_html(locale, image=True, note=True)
    for images in (True, False):
        found = violations(browser, axe_source, html, dark=dark, images=images)
        assert found == [], (images, found)


def test_axe_finds_an_image_without_alt_text(browser, axe_source):
    """The check can fail: the same email with its image's alt text removed is reported."""
    html = re.sub(r'(<img\b[^>]*?)\salt="[^"]*"', r"\1", sample_html("fr", image=True), count=1)
    found = violations(browser, axe_source, html)
    assert [v["id"] for v in found] == ["image-alt"], found
