"""The official MJML compiler (mjml, Node) validates the MJML our templates produce, strictly.

mjml-python compiles the email; it accepts attributes and nesting the official compiler would
refuse, which other MJML tools (and a later switch of compiler) would then trip over. Each
sample edition -- French and Arabic, with and without an image and an editor's note -- is
written out and compiled with ``mjml --config.validationLevel=strict``: any validation error
fails the compile, and the test.
"""

from __future__ import annotations

import subprocess

import pytest

from digest.edition.build import preview_values
from digest.render.pipeline import render_mjml
from tests.tools import node_file

from .samples import COMBINATIONS, list_title, sample_config, sample_edition


def mjml_cli():
    return node_file(".bin/mjml", "mjml")


def compile_strict(mjml, files, out_dir):
    return subprocess.run(
        [str(mjml), "--config.validationLevel=strict", "-r", *map(str, files), "-o", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("locale", ["fr", "ar"])
def test_the_official_compiler_accepts_our_mjml_strictly(locale, tmp_path):
    mjml = mjml_cli()
    config = sample_config(locale)
    files = []
    for image, note in COMBINATIONS:
        edition = sample_edition(locale, image=image, note=note)
        assert bool(edition.note) == note and bool(edition.featured[0].image) == image
        source = render_mjml(
            edition, config, list_title=list_title(locale), slot=preview_values(config, locale)
        )
        path = tmp_path / f"{locale}-image{int(image)}-note{int(note)}.mjml"
        path.write_text(source, encoding="utf-8")
        files.append(path)
    out = tmp_path / "html"
    out.mkdir()
    proc = compile_strict(mjml, files, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f.stem + ".html" for f in files)


def test_strict_validation_fails_on_an_illegal_attribute(tmp_path):
    """The check can fail: an attribute MJML does not know is refused, naming the line."""
    mjml = mjml_cli()
    config = sample_config("fr")
    source = render_mjml(
        sample_edition("fr"), config, list_title="La matinale", slot=preview_values(config, "fr")
    )
    bad = tmp_path / "bad.mjml"
    bad.write_text(source.replace("<mj-button ", '<mj-button valign="middle" ', 1), "utf-8")
    (tmp_path / "html").mkdir()
    proc = compile_strict(mjml, [bad], tmp_path / "html")
    assert proc.returncode != 0
    assert "valign is illegal" in proc.stdout + proc.stderr
