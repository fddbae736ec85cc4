"""A subscriber's whole path in Chromium, in French and in Arabic (right to left, mirrored):
signup, "check your inbox", the confirmation email, the confirmation page, unsubscribe,
preferences, archive. Each step is a screenshot, into tmp_path, or into the folder named by
DIGEST_WEB_SCREENSHOTS (the README's come from
``DIGEST_WEB_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/web/test_browser_i18n.py -k sqlite``).
"""

import os
import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.store.editions import approve_edition, get_edition
from tests.web.server import running
from tests.web.test_subscribers import SIGNER, member

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="Chromium is not installed (apt-get install chromium)",
)

WORDS = {
    "fr": {
        "signup": "S’inscrire",
        "inbox": "Consultez votre boîte de réception",
        "email": "Suivez ce lien pour confirmer",
        "confirm": "Confirmer",
        "subscribed": "Inscription confirmée",
        "unsubscribe": "Se désabonner de La matinale\u00a0?",
        "preferences": "Vos abonnements",
        "archive": "Archives",
    },
    "ar": {
        "signup": "اشترك",
        "inbox": "تفقّد بريدك الوارد",
        "email": "اتبع هذا الرابط للتأكيد",
        "confirm": "تأكيد",
        "subscribed": "تم الاشتراك",
        "unsubscribe": "إلغاء الاشتراك في La matinale؟",
        "preferences": "اشتراكاتك",
        "archive": "الأرشيف",
    },
}
BROWSER_LOCALE = {"fr": "fr-FR", "ar": "ar-MA"}
WIDTH = 820


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from digest.web.screenshot import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _shots(tmp_path) -> Path:
    out = Path(os.environ.get("DIGEST_WEB_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _check_direction(page, lang):
    html = page.locator("html")
    assert html.get_attribute("lang") == lang
    assert page.evaluate("getComputedStyle(document.body).direction") == (
        "rtl" if lang == "ar" else "ltr"
    )
    # Mirrored: the site's name starts the header on the right in Arabic, on the left otherwise.
    name = page.locator("header strong").bounding_box()
    signup = page.locator("header a[href*='/signup']").bounding_box()
    if lang == "ar":
        assert name["x"] > signup["x"] and name["x"] + name["width"] > 0.9 * WIDTH
    else:
        assert name["x"] < signup["x"] and name["x"] < 100


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_subscribers_pages_in_french_and_arabic(
    app, browser, web_config, web_db, subscribed, draft, lang, tmp_path
):
    words, out = WORDS[lang], _shots(tmp_path)
    approve_edition(web_db, draft.id, by="test")
    deliver(
        web_config,
        web_db,
        get_edition(web_db, draft.id),
        OutboxBackend(tmp_path / "o"),
        signer=SIGNER,
    )
    address = f"reader-{lang}@example.net"
    context = browser.new_context(
        locale=BROWSER_LOCALE[lang], viewport={"width": WIDTH, "height": 360}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)

    def shot(name):
        page.screenshot(path=str(out / f"web-{lang}-{name}.png"), full_page=True)

    try:
        with running(app) as url:
            # The browser's Accept-Language chooses the page's language.
            page.goto(f"{url}/digest/signup")
            assert page.locator("h1").inner_text() == words["signup"]
            _check_direction(page, lang)
            page.fill("#email", address)
            shot("signup")
            page.locator("form button[type=submit]").click()
            page.wait_for_load_state()
            assert page.locator("h1").inner_text() == words["inbox"]
            _check_direction(page, lang)
            shot("inbox")

            [eml] = sorted((web_config.root / "web-outbox").glob("*.eml"))
            message = message_from_bytes(eml.read_bytes(), policy=default)
            mail = context.new_page()
            mail.route("**/*", lambda route: route.abort())
            mail.set_viewport_size({"width": 600, "height": 300})
            mail.set_content(message.get_body(("html",)).get_content())
            assert words["email"] in mail.locator("body").inner_text()
            assert mail.evaluate("getComputedStyle(document.body).direction") == (
                "rtl" if lang == "ar" else "ltr"
            )
            # The long link wraps: nothing scrolls sideways at 600 px.
            assert mail.evaluate("document.documentElement.scrollWidth") <= 600
            mail.screenshot(path=str(out / f"web-{lang}-email.png"), full_page=True)
            mail.close()

            link = re.search(r"https://\S+/confirm/\S+", message.get_body(("plain",)).get_content())
            page.goto(
                url + link.group(0).removeprefix(web_config.site.public_url.removesuffix("/digest"))
            )
            assert page.get_by_role("button", name=words["confirm"]).is_visible()
            _check_direction(page, lang)
            shot("confirm")
            page.get_by_role("button", name=words["confirm"]).click()
            page.get_by_text(words["subscribed"]).wait_for()

            token = SIGNER.make(member(web_db, address).id, "matinale")
            page.goto(f"{url}/digest/u/{token}")
            assert page.locator("h1").inner_text() == words["unsubscribe"]
            _check_direction(page, lang)
            shot("unsubscribe")

            page.goto(f"{url}/digest/p/{token}")
            assert page.locator("h1").inner_text() == words["preferences"]
            assert address in page.locator("p.for").inner_text()
            _check_direction(page, lang)
            shot("preferences")

            page.goto(f"{url}/digest/archive")
            assert page.locator("h1").inner_text() == words["archive"]
            assert page.locator(f"a[href='/digest/archive/{draft.id}']").is_visible()
            _check_direction(page, lang)
            shot("archive")
    finally:
        context.close()
