"""Screenshots of the sample email for the README: fr and ar, light and dark, 375 and 600 px.

    .venv/bin/python docs/screenshots.py       # writes docs/screenshots/*.png (needs Chromium)

Not a test: it shows what tests/render/test_reader.py measures.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from digest.render import render_edition  # noqa: E402
from digest.web.screenshot import launch  # noqa: E402
from tests.render.conftest import VALUES, make_config, make_edition, ticker_story  # noqa: E402
from tests.render.reader import open_email  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def html_for(locale: str) -> str:
    edition = make_edition(locale, ticker=[ticker_story(i) for i in range(12)])
    rendered = render_edition(edition, make_config(locale), list_title="La matinale")
    html = rendered.html
    for key, token in rendered.tokens["html"].items():
        html = html.replace(token, VALUES[key])
    return html


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        for locale in ("fr", "ar"):
            html = html_for(locale)
            for dark in (False, True):
                for width in (375, 600):
                    page = open_email(browser, html, width, dark=dark)
                    name = f"{locale}-{'dark' if dark else 'light'}-{width}.png"
                    page.screenshot(
                        path=str(OUT / name), clip={"x": 0, "y": 0, "width": width, "height": 1350}
                    )
                    page.close()
                    print(OUT / name)
        browser.close()


if __name__ == "__main__":
    main()
