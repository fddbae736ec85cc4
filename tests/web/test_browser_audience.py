"""The audience in a real browser (Debian's Chromium through Playwright, a real server): an
admin finds one subscriber among 100,000, opens their page, erases them, lifts a suppression.
With DIGEST_SCREENSHOTS=1 it saves docs/screenshots/audience.png and subscriber.png."""

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from digest.store import schema as t
from digest.store.erasures import is_erased
from digest.store.subscribers import is_suppressed, suppress
from tests.web import test_browser
from tests.web.conftest import EDITOR, PASSWORD
from tests.web.server import running

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)
browser, page = test_browser.browser, test_browser.page  # its fixtures, shared
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
N = 100_000


def hundred_thousand(db):
    """100,000 readers on matinale, in two executemany statements (not 100,000 requests)."""
    now = t.utcnow()
    with db.write() as conn:
        list_id = conn.scalar(select(t.lists.c.id).where(t.lists.c.name == "matinale"))
        first = (
            conn.scalar(select(t.subscribers.c.id).order_by(t.subscribers.c.id.desc())) or 0
        ) + 1
        conn.execute(
            insert(t.subscribers),
            [
                {
                    "id": first + i,
                    "email": f"lecteur{i}@example.ma",
                    "email_key": f"lecteur{i}@example.ma",
                    "name": f"Lecteur {i}",
                    "locale": "fr",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(N)
            ],
        )
        conn.execute(
            insert(t.memberships),
            [
                {
                    "list_id": list_id,
                    "subscriber_id": first + i,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(N)
            ],
        )


def shot(page, name):
    if os.environ.get("DIGEST_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


def test_admin_finds_one_among_100000_erases_them_and_lifts_a_suppression(
    app,
    web_db,
    subscribed,
    page,
):
    hundred_thousand(web_db)
    suppress(web_db, "rebond@example.ma", "bounce", "sendgrid-webhook")
    wanted = "lecteur73421@example.ma"
    with running(app) as url:
        page.goto(f"{url}/digest/audience")
        assert page.url.endswith("/digest/login")
        page.fill("#name", EDITOR)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{url}/digest/audience")
        assert "More than 1000 subscribers match" in page.inner_text("#count")

        page.fill("#q", "lecteur73421@")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r".*/digest/audience\?q=lecteur73421"))
        results = page.locator("#results a")
        assert results.count() == 1 and results.first.inner_text() == wanted
        shot(page, "audience.png")

        results.first.click()
        page.wait_for_url(re.compile(r".*/digest/audience/\d+$"))
        assert page.locator("h1").inner_text() == wanted
        assert "Lecteur 73421" == page.input_value("#name")
        assert "subscribed" in page.inner_text("#lists")
        shot(page, "subscriber.png")

        page.get_by_label("The person asked to be erased").check()
        page.get_by_role("button", name="Erase this subscriber").click()
        page.wait_for_url(re.compile(r".*/digest/audience\?m=erased"))
        assert "only a hash of the address is kept" in page.inner_text("[role=status]")

        page.goto(f"{url}/digest/audience/suppressions")
        assert "erased on request" in page.inner_text("#suppressions")
        assert wanted not in page.content()
        page.get_by_role("button", name="Lift for rebond@example.ma").click()
        page.wait_for_url(re.compile(r".*/digest/audience/suppressions\?m=lifted"))
        assert "rebond@example.ma" not in page.inner_text("#suppressions")

    assert is_erased(web_db, wanted) and not is_suppressed(web_db, "rebond@example.ma")
