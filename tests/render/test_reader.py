"""What a reader sees, in Chromium: 320, 375 and 600 px, light and dark, French and Arabic."""

from __future__ import annotations

import os

import pytest

from digest.render import render_edition

from .conftest import VALUES, make_config, make_edition, ticker_story
from .reader import MEASURE, SOURCE_H, SOURCE_W, open_email

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)


def email(locale: str) -> str:
    edition = make_edition(locale, ticker=[ticker_story(i) for i in range(12)])
    rendered = render_edition(edition, make_config(locale), list_title="La matinale")
    html = rendered.html
    for key, token in rendered.tokens["html"].items():
        html = html.replace(token, VALUES[key])
    return html


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from digest.web.screenshot import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.mark.parametrize("locale", ["fr", "ar"])
@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("width", [320, 375, 600])
def test_no_overflow_ratio_kept_headlines_on_first_screen(browser, locale, dark, width):
    html = email(locale)
    for images in (True, False):
        page = open_email(browser, html, width, dark=dark, images=images)
        m = page.evaluate(MEASURE)
        page.close()
        assert m["overflow"] <= 0, (width, images, m)
        if images:
            w, h = m["img"]
            assert abs((w / h) / (SOURCE_W / SOURCE_H) - 1) < 0.02, m
        if width == 375:
            assert m["headline_top"] < 900, m
