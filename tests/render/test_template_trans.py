"""A site's own email templates may use {% trans %} and _(): the edition's language decides."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from digest.render import render_edition

from .conftest import make_config, make_edition

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize(
    "locale, words", [("fr", "Lire la suite · Archives"), ("ar", "اقرأ المزيد · الأرشيف")]
)
def test_trans_in_a_sites_own_text_template(tmp_path, locale, words):
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    text = target / "email.txt.j2"
    text.write_text(
        text.read_text(encoding="utf-8")
        + '{% trans %}Read more{% endtrans %} · {{ _("Archive") }}\n',
        encoding="utf-8",
    )
    rendered = render_edition(
        make_edition(locale), make_config(locale, templates_dir=target), list_title="La matinale"
    )
    assert rendered.text.rstrip().endswith(words)
