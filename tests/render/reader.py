"""The email opened in Chromium as a reader would: widths, light/dark, images on or blocked.

Shared by tests/render/test_reader.py and docs/screenshots.py. Images are answered with an SVG
of the source's size (1200x800), so the page never touches the network and the ratio is known.
"""

from __future__ import annotations

SOURCE_W, SOURCE_H = 1200, 800
SVG = (
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{SOURCE_W}" height="{SOURCE_H}">'
    f'<rect width="100%" height="100%" fill="#8aa"/></svg>'
)
MEASURE = """() => {
  const img = [...document.querySelectorAll('.dg-img img')][0];
  const head = document.querySelector('.dg-headline');
  return {
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    headline_top: head ? head.getBoundingClientRect().top + window.scrollY : null,
    img: img ? [img.getBoundingClientRect().width, img.getBoundingClientRect().height] : null,
  };
}"""


def open_email(browser, html: str, width: int, *, dark: bool = False, images: bool = True):
    """A page showing ``html`` at ``width`` px; every request but images is refused."""
    page = browser.new_page(
        viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
    )

    def answer(route):
        if images and route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/svg+xml", body=SVG)
        else:
            route.abort()

    page.route("**/*", answer)
    page.set_content(html, wait_until="load")
    return page
