"""The build steps pyproject.toml cannot say: ship the top-level site files in the wheel, and
compile the translations (digest/locales/*/LC_MESSAGES/digest.po -> .mo).

``templates/``, ``digest.toml``, ``samples/`` and ``subscribers/`` stay at the repository's top
level (that layout is part of the design). A wheel carries a copy of them under
``digest/_data/``, where ``digest.resources`` looks first. An editable install copies nothing
and reads the checkout's own files, so template edits show without reinstalling; it compiles
no catalog either: digest.i18n compiles a ``.po`` in memory when its ``.mo`` is missing.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("templates", "digest.toml", "samples", "subscribers")


class BuildWithSiteFiles(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        compile_catalogs(Path(self.build_lib) / "digest" / "locales")
        data = Path(self.build_lib) / "digest" / "_data"
        # A build folder left by an earlier build must not ship files deleted since.
        shutil.rmtree(data, ignore_errors=True)
        for name in SHIPPED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, data / name, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]")
                )
            else:
                data.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, data / name)


def compile_catalogs(locales: Path) -> None:
    """Every .po under ``locales`` compiled beside it, as ``pybabel compile`` would."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(locales.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)


setup(cmdclass={"build_py": BuildWithSiteFiles})
