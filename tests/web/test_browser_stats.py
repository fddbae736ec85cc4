"""In a real browser: after SendGrid's signed events were posted to the real server, an admin
reads the statistics page (table, SVG chart, the note on Apple's pre-fetches) and an edition's.
With DIGEST_SCREENSHOTS=1 it saves docs/screenshots/stats.png."""

import os
import re
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import EDITOR, PASSWORD
from tests.web.server import running
from tests.web.stats_helpers import (
    STORY_A,
    earlier_editions,
    post_events,
    readers_events,
    send,
    varied_events,
)

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


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


def test_an_admin_reads_the_statistics_after_signed_events(
    app,
    web_config,
    web_db,
    draft,
    webhook_key,
    page,
    tmp_path,
):
    before = earlier_editions(web_config, web_db, 6, tmp_path / "before")
    rows = send(web_config, web_db, draft, tmp_path / "out")
    with running(app) as url:
        with httpx.Client(base_url=url) as http:
            post_events(
                lambda body, headers: http.post(
                    "/digest/hooks/sendgrid", content=body, headers=headers
                ),
                webhook_key,
                readers_events(draft.id, rows) + varied_events(before),
            )
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{url}/digest/stats")
        page.fill("#name", EDITOR)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{url}/digest/stats?lang=en")
        assert page.locator("h1").inner_text() == "Statistics"
        # The chart's text alternative is its accessible name.
        chart = page.get_by_role("img", name=re.compile("Open rate and click-through"))
        assert chart.is_visible() and chart.bounding_box()["width"] > 300
        assert chart.locator("rect").count() == 7 * 2 + 2  # 2 bars an edition, 2 legend keys
        assert "30 Jun" in chart.text_content() and "25 Jun" in chart.text_content()
        assert "Apple Mail Privacy Protection" in page.locator("#mpp").inner_text()
        row = page.locator("tr", has=page.locator(f"a[href^='/digest/stats/{draft.id}']"))
        cells = row.locator("td").all_inner_texts()
        # delivered, unique opens, open rate, machine opens, unique clicks, click-through
        assert cells[2:8] == ["4", "2", "50.0 %", "1", "2", "50.0 %"]
        assert re.search(r"\d", cells[1])  # when it was sent, in the site's zone
        if os.environ.get("DIGEST_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "stats.png"), full_page=True)
        row.locator("a").first.click()
        page.wait_for_url(re.compile(rf".*/digest/stats/{draft.id}.*"))
        assert STORY_A in page.locator("#links").inner_text()
        figures = page.locator("#figures").inner_text()
        assert "Click-through\t50.0 %" in figures or "50.0 %" in figures
