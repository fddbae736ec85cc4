"""Render an edition once (Jinja2 -> MJML -> HTML -> premailer, plus a text part) and
personalize it per subscriber cheaply by filling placeholder tokens."""

from digest.errors import RenderError
from digest.render.personalize import (
    SLOT_KEYS,
    Personalizer,
    compile_personalizer,
    make_tokens,
)
from digest.render.pipeline import naive_render, render_edition
from digest.render.strings import greeting, strings

__all__ = [
    "SLOT_KEYS",
    "Personalizer",
    "RenderError",
    "compile_personalizer",
    "greeting",
    "make_tokens",
    "naive_render",
    "render_edition",
    "strings",
]
