"""Render an edition once: Jinja2 -> MJML -> HTML (mjml-python) -> premailer; and the text part.

``render_edition`` is the only expensive step and runs once per edition (per locale/variant).
Per-subscriber values are placeholder tokens (see ``digest.render.personalize``), filled later
by ``Personalizer.fill`` or by the delivery backend's substitutions.

``mjml2html`` and ``Premailer`` are looked up as module-level names, each called in exactly one
place (``_compile_html``), so tests can count the calls.
"""

from __future__ import annotations

import logging
import re
import textwrap
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup
from mjml import mjml2html
from premailer import Premailer

from digest.config import Config
from digest.errors import RenderError
from digest.i18n import install_jinja
from digest.locale import direction
from digest.models import Edition, Rendered
from digest.render.checks import image_warnings, size_warning
from digest.render.context import build_context, edition_texts
from digest.render.personalize import SLOT_KEYS, make_tokens, new_nonce

HTML_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
TEXT_WIDTH = 76
_CSS_UNSAFE = re.compile(r"[<>{}\\;\r\n\x00]")
_DOCTYPE = "<!doctype html>"
# Apple Mail must not rescale the layout nor turn dates, addresses and numbers into links;
# both schemes are declared so clients that darken emails use our dark rules instead.
HEAD_META = (
    '<meta name="x-apple-disable-message-reformatting">'
    '<meta name="format-detection" content="telephone=no, date=no, address=no, email=no, url=no">'
    '<meta name="color-scheme" content="light dark">'
    '<meta name="supported-color-schemes" content="light dark">'
)

# cssutils (used by premailer) logs a warning for every mso-* / -webkit-* property.
logging.getLogger("cssutils").setLevel(logging.CRITICAL)
logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)


def _css(value) -> Markup:
    """A theme value made safe inside a CSS declaration or an MJML attribute."""
    return Markup(_CSS_UNSAFE.sub("", str(value)).replace('"', "'").strip())


def _wrap(value: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    return textwrap.fill(
        str(value),
        width=width,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or str(value)


@lru_cache(maxsize=8)
def environment(templates_dir: str) -> jinja2.Environment:
    """One Jinja2 environment per templates folder: MJML templates autoescaped, text not."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("mjml.j2", "html.j2"),
            default_for_string=True,
            default=False,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["css"] = _css
    env.filters["wrap"] = _wrap
    # A site's own templates may add words of their own: {% trans %} / _() read the catalogs
    # in the edition's language (context["translations"]); the built-in ones use ``s``.
    install_jinja(env)
    return env


def _template_error(name: str, exc: Exception) -> RenderError:
    if isinstance(exc, jinja2.TemplateNotFound):
        return RenderError(f"The email template {exc.name!r} was not found (templates_dir).")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or exc.name or name
        return RenderError(
            f"The email template {where} has a syntax error on line {exc.lineno}: {exc.message}"
        )
    return RenderError(f"The email template {name} could not be rendered: {exc}")


def _render_template(config: Config, name: str, context: dict) -> str:
    try:
        return environment(str(Path(config.templates_dir))).get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise _template_error(name, exc) from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RenderError(f"The email template {name} could not be rendered: {exc}") from exc


def _compile_html(mjml_source: str, fonts: Mapping[str, str], *, rtl: bool = False) -> str:
    """MJML -> HTML -> inlined CSS. The only caller of ``mjml2html`` and ``Premailer``."""
    try:
        html = mjml2html(mjml_source, fonts=dict(fonts))
    except Exception as exc:  # mjml-python raises ValueError with the parser's message
        raise RenderError(f"The MJML produced by {HTML_TEMPLATE} is invalid: {exc}") from exc
    html = html.replace("<head>", "<head>" + HEAD_META, 1)
    if rtl:  # MJML hard-codes text-align:left on column wrappers; mirror them too
        html = html.replace("text-align:left;direction:rtl", "text-align:right;direction:rtl")
    try:
        inliner = Premailer(
            html,
            allow_network=False,
            strip_important=False,
            keep_style_tags=True,
            disable_validation=True,
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
        )
        out = inliner.transform(pretty_print=False)
    except Exception as exc:
        raise RenderError(f"Inlining the CSS of the email failed: {exc}") from exc
    if not out.lstrip().lower().startswith("<!doctype"):
        out = f"{_DOCTYPE}\n{out}"  # lxml drops MJML's lowercase doctype
    return out


def render_mjml(
    edition: Edition,
    config: Config,
    *,
    list_title: str,
    slot: Mapping[str, str],
    variant: bool = False,
) -> str:
    """The MJML document the email is compiled from (the templates' output, before mjml2html);
    also what the official MJML compiler validates in the tests."""
    context = build_context(edition, config, list_title, slot, variant=variant)
    return _render_template(config, HTML_TEMPLATE, context)


def _render_parts(
    edition: Edition,
    config: Config,
    list_title: str,
    html_slot: Mapping[str, str],
    text_slot: Mapping[str, str],
    variant: bool = False,
) -> tuple[str, str]:
    mjml_source = render_mjml(
        edition, config, list_title=list_title, slot=html_slot, variant=variant
    )
    rtl = direction(edition.locale or config.site.locale) == "rtl"
    html = _compile_html(mjml_source, config.theme.fonts, rtl=rtl)
    text = _render_template(
        config,
        TEXT_TEMPLATE,
        build_context(edition, config, list_title, text_slot, variant=variant),
    )
    return html, _tidy_text(text)


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() if line != "-- " else line for line in text.splitlines()]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines)).strip("\n") + "\n"


def _fresh_nonce(edition: Edition) -> str:
    texts = edition_texts(edition)
    while True:
        nonce = new_nonce()
        if nonce not in texts:
            return nonce


def _check_tokens(html: str, text: str, tokens) -> None:
    for part, doc in (("HTML", html), ("text", text)):
        if tokens[part.lower()]["unsubscribe_url"] not in doc:
            raise RenderError(
                f"The {part} part of the email has no unsubscribe link: every message needs "
                f"one (use slot.unsubscribe_url in the template)."
            )


def render_edition(
    edition: Edition,
    config: Config,
    *,
    list_title: str,
    nonce: str | None = None,
    variant: bool = False,
) -> Rendered:
    """Render one edition once, with placeholder tokens for per-subscriber values.

    ``nonce`` is for tests and replays only; by default a fresh random one is drawn.
    ``variant``: the edition in a locale other than its list's default (its "view online" link
    names the locale).
    """
    locale = edition.locale or config.site.locale
    nonce = nonce or _fresh_nonce(edition)
    tokens = make_tokens(nonce, SLOT_KEYS)
    html_slot = {k: Markup(v) for k, v in tokens["html"].items()}
    html, text = _render_parts(
        edition, config, list_title, html_slot, tokens["text"], variant=variant
    )
    _check_tokens(html, text, tokens)
    warnings = list(image_warnings(html))
    big = size_warning(html, config.edition.max_html_bytes)
    if big:
        warnings.insert(0, big)
    return Rendered(
        html=html,
        text=text,
        subject=edition.subject,
        preheader=edition.preheader,
        warnings=tuple(warnings),
        tokens={part: dict(m) for part, m in tokens.items()},  # plain dicts: picklable
        locale=locale,
        direction=direction(locale),
    )


def naive_render(
    edition: Edition, config: Config, list_title: str, values: Mapping[str, str]
) -> tuple[str, str]:
    """A full render for one subscriber, values in place (no tokens): the slow way.

    For benchmarks and equivalence tests only; production renders once and fills.
    """
    missing = [k for k in SLOT_KEYS if k not in values]
    if missing:
        raise KeyError(f"no value for: {', '.join(missing)}")
    return _render_parts(edition, config, list_title, values, values)
