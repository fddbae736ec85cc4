"""Content editing in a real browser (Debian's Chromium through Playwright, a real server):
log in, rewrite a headline, see it in the preview, and the approval withdrawn visibly.
With DIGEST_SCREENSHOTS=1, docs/screenshots/draft.png is saved (the README's)."""

import os
import re
from pathlib import Path

import pytest

from digest.edition.edits import story_key
from digest.store.editions import get_edition
from tests.web.conftest import PASSWORD, PLAIN_EDITOR
from tests.web.server import running
from tests.web.test_browser import browser, page  # noqa: F401 - the fixtures

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_editor_rewrites_a_headline_and_sees_it_in_the_preview(app, draft, web_db, page):  # noqa: F811
    item = draft.edition.ticker[0]
    with running(app) as url:
        page.goto(f"{url}/digest/login")
        page.fill("#name", PLAIN_EDITOR)  # an editor, not an admin
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/digest/$"))
        page.goto(f"{url}/digest/editions/{draft.id}?lang=en")
        page.get_by_role("button", name="Approve this edition").click()
        page.wait_for_load_state()
        assert page.locator("#approval").inner_text().startswith(f"Approved by {PLAIN_EDITOR},")

        first = page.locator("ol[data-section=ticker] > li").first
        first.locator("summary").click()
        first.locator("input[name=title]").fill("Un titre réécrit par la rédaction")
        first.get_by_role("button", name=re.compile("Save the rewrite")).click()
        page.wait_for_load_state()
        assert "your change withdrew the approval" in page.locator(".message").inner_text()
        assert page.get_by_role("button", name="Approve this edition").is_visible()
        shown = page.locator("ol[data-section=ticker] li .title").first.inner_text()
        assert shown == "Un titre réécrit par la rédaction"
        # The preview is the email itself, rendered again at once.
        preview = page.frame_locator("iframe.desktop").locator("body")
        preview.get_by_text("Un titre réécrit par la rédaction").wait_for()
        assert item.title[:30] not in preview.inner_text()
        if os.environ.get("DIGEST_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(SCREENSHOTS / "draft.png"), full_page=True)

    stored = get_edition(web_db, draft.id)
    assert stored.edits["rewritten"][story_key(item)]["title"] == (
        "Un titre réécrit par la rédaction"
    )
    assert stored.approved_at is None
