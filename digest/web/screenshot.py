"""Screenshots of an email through headless Chromium (Debian's package, driven by Playwright).

Nothing here downloads a browser: Playwright is pointed at the system's Chromium. The page is
loaded offline (every network request is refused), so a screenshot shows what a reader sees
before images load, and never waits on the network.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from digest.errors import DigestError

CHROMIUM = os.environ.get("DIGEST_CHROMIUM", "/usr/bin/chromium")
# Root on a machine with no network: no sandbox (it needs user namespaces), nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (375, 800)


def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        raise DigestError(
            "Chromium is not installed (apt-get install chromium); screenshots need it"
        )
    return path


def launch(playwright):
    """A headless Chromium. Playwright's launch() gives every browser a fresh temporary
    profile (its own --user-data-dir), removed when the browser closes."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def screenshot(html: str, out_dir: Path, stem: str, widths=WIDTHS) -> list[Path]:
    """Full-page PNGs of ``html`` at each width: ``{stem}-{width}.png``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise DigestError(
            "screenshots need the screenshots extra: pip install "
            "'digest[screenshots]' (never 'playwright install': the system's "
            "Chromium is used)"
        ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for width in widths:
                page = browser.new_page(viewport={"width": width, "height": 800})
                page.route("**/*", lambda route: route.abort())
                page.set_content(html, wait_until="load")
                path = out_dir / f"{stem}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                page.close()
                paths.append(path)
        finally:
            browser.close()
    return paths
