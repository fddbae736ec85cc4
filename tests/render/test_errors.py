"""Template and MJML errors become one RenderError sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from digest.errors import DigestError, RenderError
from digest.render import render_edition

from .conftest import make_config, make_edition

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def templates(tmp_path):
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def render(templates):
    return render_edition(
        make_edition("fr"), make_config("fr", templates_dir=templates), list_title="La matinale"
    )


def test_the_copied_templates_render(templates):
    assert "Se désabonner" in render(templates).html


def test_template_syntax_error(templates):
    path = templates / "partials" / "ticker.mjml.j2"
    path.write_text(path.read_text() + "\n{% for x in %}\n")
    with pytest.raises(RenderError, match=r"ticker\.mjml\.j2 has a syntax error on line \d+"):
        render(templates)


def test_unknown_variable_is_an_error(templates):
    path = templates / "partials" / "footer.mjml.j2"
    path.write_text(path.read_text().replace("{{ why }}", "{{ no_such_thing }}"))
    with pytest.raises(RenderError, match="no_such_thing"):
        render(templates)


def test_missing_template(templates):
    (templates / "partials" / "header.mjml.j2").unlink()
    with pytest.raises(RenderError, match="header.mjml.j2.*not found"):
        render(templates)


def test_invalid_mjml(templates):
    path = templates / "email.mjml.j2"
    path.write_text(path.read_text().replace("</mj-body>", ""))
    with pytest.raises(RenderError, match="MJML .* is invalid") as info:
        render(templates)
    assert isinstance(info.value, DigestError)


def test_template_without_unsubscribe_link_is_refused(templates):
    path = templates / "partials" / "footer.mjml.j2"
    path.write_text(path.read_text().replace("{{ slot.unsubscribe_url }}", "#"))
    with pytest.raises(RenderError, match="HTML part .* no unsubscribe link"):
        render(templates)
