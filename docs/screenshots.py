"""Screenshots of the sample edition for the README: fr and ar, light and dark, 375 and 600 px.

    .venv/bin/python docs/screenshots.py       # writes docs/screenshots/*.png (needs Chromium)

Not a test: it shows what tests/render/test_reader.py measures.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from digest.config import load_config  # noqa: E402
from digest.edition.build import build_edition  # noqa: E402
from digest.render.strings import greeting  # noqa: E402
from digest.web.screenshot import launch  # noqa: E402
from tests.render.reader import open_email  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")  # when the sample page was captured
NAMES = {"fr": "Amina", "ar": "أمينة"}


def html_for(locale: str) -> str:
    """The sample site's edition (the repository's digest.toml: the French homepage, and the
    Arabic feed for the ar variant), filled as for one subscriber named Amina."""
    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=NOW, locales=["fr", "ar"])
    rendered = next((v.rendered for v in built.variants if v.locale == locale), built.rendered)
    values = {
        "greeting": greeting(NAMES[locale], locale),
        "unsubscribe_url": "https://www.example.ma/digest/u/Zx9_kQ?list=matinale&v=1",
        "preferences_url": "https://www.example.ma/digest/p/Zx9_kQ",
    }
    html = rendered.html
    for key, token in rendered.tokens["html"].items():
        html = html.replace(token, values[key])
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
