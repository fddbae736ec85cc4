"""The dashboard and send control in a real browser (Debian's Chromium through Playwright, a real
uvicorn server): log in, land on the dashboard, see the draft waiting, approve it, start a send
to the loopback SendGrid-like server (the real ``sendgrid`` library) and watch the page follow it
to "sent" by itself; cancel another edition with a reason.

The send is held at its first batch by a gate the test opens (a backend wrapper), so the page is
seen while sending, whatever the machine's speed; nothing here waits for a fixed time.
With DIGEST_SCREENSHOTS=1 it saves docs/screenshots/dashboard.png and send.png.
"""

import os
import re
import threading
from pathlib import Path

import pytest

from digest.config import load_config
from digest.store import ledger
from digest.store.editions import approve_edition, get_edition
from digest.store.sendactions import list_actions
from tests.delivery.sendgrid_server import SendGridServer
from tests.web.conftest import EDITOR, PASSWORD, SECRET
from tests.web.server import running
from tests.web.test_browser import browser, page  # noqa: F401 (fixtures)
from tests.web.test_dashboard import Held, today  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def gate():
    opened = threading.Event()
    yield opened
    opened.set()  # never leave a sender thread waiting


KEY = "SG.browser-test"


@pytest.fixture
def sendgrid():
    with SendGridServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def held_app(web_config, web_db, gate, site, sendgrid):
    from digest.delivery import make_backend
    from digest.web.app import create_app

    # The web process's environment names the provider, as for `digest send`.
    env = {"DIGEST_SECRET_KEY": SECRET, "SENDGRID_API_HOST": sendgrid.url, "SENDGRID_API_KEY": KEY}
    config = load_config(site, env=env)
    backends = []

    def make(name):
        backends.append(Held(make_backend(name, config, out_dir=config.state_dir), gate))
        return backends[-1]

    app = create_app(config, db=web_db, make_send_backend=make)
    app.state.held = backends
    yield app
    gate.set()
    app.state.web.sends.shutdown()


def shoot(tab, name):
    if os.environ.get("DIGEST_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / name), full_page=True)


def test_log_in_approve_send_and_watch_it_finish_then_cancel_another(
    held_app,
    web_config,
    web_db,
    today,  # noqa: F811
    draft,
    gate,
    sendgrid,
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    approve_edition(web_db, draft.id, by=EDITOR)  # the other one: approved, never started
    with running(held_app) as url:
        page.goto(f"{url}/digest/login")
        page.fill("#name", EDITOR)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/digest/$"))
        expect(page.locator("h1")).to_have_text("Dashboard")
        attention = page.locator("#attention")
        expect(attention).to_contain_text(today.id)
        expect(attention).to_contain_text("waits for approval")
        expect(page.locator(f"td[data-edition='{today.id}']")).to_contain_text(
            "waiting for approval"
        )

        page.click(f"#attention a[href='/digest/editions/{today.id}']")
        page.click("#send-control")
        page.wait_for_url(re.compile(rf".*/editions/{today.id}/send$"))
        expect(page.get_by_role("button", name="Start sending")).to_have_count(0)  # not approved
        page.get_by_role("button", name="Approve this edition").click()
        expect(page.locator("#message")).to_have_text(f"Approved by {EDITOR}.")
        expect(page.get_by_role("button", name="Approve this edition")).to_have_count(0)

        page.select_option("#backend", "sendgrid")
        page.get_by_role("button", name="Start sending").click()
        expect(page.locator("#message")).to_contain_text("Started (sendgrid)")
        assert held_app.state.held[0].waiting.wait(30)  # the sender is at its first batch
        expect(page.locator("#status")).to_have_text("sending")
        expect(page.get_by_role("button", name="Pause")).to_be_visible()
        expect(page.get_by_role("button", name="Start sending")).to_have_count(0)
        shoot(page, "send.png")
        dashboard = page.context.new_page()
        dashboard.goto(f"{url}/digest/")
        expect(dashboard.locator(f"td[data-edition='{today.id}']")).to_contain_text("sending")
        shoot(dashboard, "dashboard.png")

        gate.set()  # the send goes on; the page follows it through the event stream
        total = sum(ledger.counts(web_db, today.id).values())
        # The dashboard follows it too: once the send stops, its cell reads the new state.
        cell = dashboard.locator(f"td[data-edition='{today.id}']")
        expect(cell.locator(".live")).to_have_count(0, timeout=60_000)  # redrawn, not sending
        expect(cell).to_contain_text("sent")
        dashboard.close()
        expect(page.locator("#status")).to_have_text("sent", timeout=60_000)
        expect(page.locator("#progress [data-count=sent]")).to_have_text(str(total))
        expect(page.get_by_role("button", name="Pause")).to_have_count(0)
        expect(page.locator("#history")).to_contain_text("start")

        page.goto(f"{url}/digest/editions/{draft.id}/send")
        page.fill("#cancel-reason", "wrong day")
        page.get_by_role("button", name="Cancel this edition").click()
        expect(page.locator("#status")).to_have_text("cancelled")
        expect(page.locator("#reason")).to_have_text("wrong day")
        expect(page.locator("#actions button")).to_have_count(0)

        # The audit log shows what was done, by whom; the tokens page is where scripts start.
        page.goto(f"{url}/digest/audit")
        expect(page.locator("main")).to_contain_text("send:cancel")
        expect(page.locator("main")).to_contain_text("send:start")
        shoot(page, "audit.png")
        page.goto(f"{url}/digest/tokens")
        shoot(page, "tokens.png")

    assert get_edition(web_db, today.id).status == "sent"
    assert ledger.counts(web_db, today.id)["sent"] == total > 0
    # Through the provider: everyone once, every request valid by SendGrid's schema.
    assert len(sendgrid.delivered_addresses()) == len(set(sendgrid.delivered_addresses())) == total
    assert sendgrid.violations == []
    assert get_edition(web_db, draft.id).status == "cancelled"
    assert [(a.action, a.actor) for a in list_actions(web_db, today.id)] == [
        ("start", EDITOR),
        ("approve", EDITOR),
    ]
    assert [(a.action, a.detail) for a in list_actions(web_db, draft.id)] == [
        ("cancel", "wrong day")
    ]
