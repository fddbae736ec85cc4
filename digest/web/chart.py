"""The statistics page's chart, drawn on the server as SVG: readable without JavaScript, with
its title and a description as the text alternative (the table under it has every figure).

Two bars per edition, oldest on the left: the open rate (unique readers' opens / delivered)
and the click-through (unique clicks / delivered), on a 0..100 % axis scaled to the largest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from digest.store.readers import Figures

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 40
OPEN_COLOR, CLICK_COLOR = "#2b6cb0", "#c05621"


def _ceiling(largest: float) -> float:
    """The axis top: the next of 10 %, 25 %, 50 %, 100 % above the largest rate."""
    return next(top for top in (0.1, 0.25, 0.5, 1.0) if largest <= top)


def svg(
    figures: Sequence[Figures],
    *,
    chart_id: str,
    title: str,
    description: str,
    legend: tuple[str, str],
    label: Callable[[Figures], str],
) -> Markup:
    top = _ceiling(
        max([f.open_rate or 0 for f in figures] + [f.click_through or 0 for f in figures])
    )
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(figures), 1)
    bar = max(2.0, min(12.0, slot / 2 - 2))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'style="max-width:{WIDTH}px;font:11px system-ui,sans-serif">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for step in range(5):  # the axis: 0, 1/4, 1/2, 3/4, top
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{value * 100:g}%</text>'
        )
    for i, f in enumerate(figures):
        x = LEFT + slot * i + slot / 2
        for rate, color, dx in (
            (f.open_rate or 0, OPEN_COLOR, -bar - 1),
            (f.click_through or 0, CLICK_COLOR, 1),
        ):
            h = plot_h * min(rate / top, 1.0)
            out.append(
                f'<rect x="{x + dx:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(label(f))}: {rate:.1%}</title></rect>'
            )
        if len(figures) <= 10 or i % max(1, len(figures) // 10) == 0:
            out.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
                f"{escape(label(f))}</text>"
            )
    y = HEIGHT - 8
    for n, (name, color) in enumerate(zip(legend, (OPEN_COLOR, CLICK_COLOR), strict=True)):
        x = LEFT + n * 200
        out.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))
