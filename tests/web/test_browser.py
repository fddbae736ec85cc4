"""In a real browser: Debian's Chromium, headless, driven by Playwright (never downloaded)."""

import os
import re

import pytest

from digest.store.editions import get_edition
from tests.web.conftest import EDITOR, PASSWORD
from tests.web.server import running

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from digest.web.screenshot import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_editor_logs_in_previews_pins_and_approves(app, draft, web_db, page):
    pinned = draft.edition.ticker[-1]
    with running(app) as url:
        page.goto(f"{url}/digest/editions/{draft.id}")
        assert page.url.endswith("/digest/login")  # not logged in: sent to the login form
        page.fill("#name", EDITOR)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/digest/$"))  # the dashboard
        page.click(f"#attention a[href='/digest/editions/{draft.id}']")

        # The previews: a desktop and a 375 px frame showing the email itself.
        mobile = page.frame_locator("iframe.mobile")
        assert mobile.locator("body").inner_text().count(draft.edition.featured[0].title[:30]) >= 1
        assert page.locator("iframe.mobile").bounding_box()["width"] == pytest.approx(375, abs=2)
        assert page.locator("iframe.desktop").bounding_box()["width"] == pytest.approx(800, abs=2)
        assert "✗" not in page.locator("#checks").inner_text()

        page.get_by_role("button", name=f"Pin {pinned.title}").click()
        page.wait_for_load_state()
        first = page.locator("ol[data-section=ticker] li .title").first.inner_text()
        assert first == pinned.title
        page.get_by_role("button", name="Approve this edition").click()
        page.wait_for_load_state()
        assert f"Approved by {EDITOR}" in page.content()

    stored = get_edition(web_db, draft.id)
    assert stored.edition.ticker[0] == pinned
    assert stored.approved_by == EDITOR  # approved after the pin: the gate opens


def test_subscriber_unsubscribes_from_the_confirmation_page(app, web_db, subscribed, page):
    from tests.web.test_subscribers import SIGNER, member

    address = "camille.martin@example.com"
    token = SIGNER.make(member(web_db, address).id, "matinale")
    with running(app) as url:
        page.goto(f"{url}/digest/u/{token}")
        assert member(web_db, address).status == "active"  # the visit alone changes nothing
        # Camille reads French: the page is hers, whatever the browser asks for.
        page.get_by_role("button", name="Se désabonner").click()
        page.get_by_text("Vous êtes désabonné").wait_for()
    assert member(web_db, address).status == "unsubscribed"


@pytest.mark.parametrize("locale", ["fr", "ar"])
def test_email_at_320px_has_no_horizontal_scroll(browser, site, locale, tmp_path):
    from datetime import datetime

    from digest.config import load_config
    from digest.edition.build import build_edition, preview_values
    from digest.render import Personalizer
    from tests.conftest import ROOT, SAMPLE_NOW

    if locale == "ar":
        text = site.read_text(encoding="utf-8").replace('locale = "fr"', 'locale = "ar"')
        text = re.sub(
            r'path = ".*homepage-fr.txt"',
            f'path = "{ROOT / "tests" / "fixtures" / "homepage-ar.txt"}"',
            text,
        )
        site.write_text(text, encoding="utf-8")
    config = load_config(site, env={})
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    html, _ = Personalizer(built.rendered).fill(preview_values(config, locale))
    page = browser.new_page(viewport={"width": 320, "height": 640})
    try:
        page.route("**/*", lambda route: route.abort())  # offline, like a screenshot
        page.set_content(html)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1] == 320
    finally:
        page.close()
