"""The one build step pyproject.toml cannot say: ship the top-level site files in the wheel.

``templates/``, ``digest.toml``, ``samples/`` and ``subscribers/`` stay at the repository's top
level (that layout is part of the design). A wheel carries a copy of them under
``digest/_data/``, where ``digest.resources`` looks first. An editable install copies nothing
and reads the checkout's own files, so template edits show without reinstalling.
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


setup(cmdclass={"build_py": BuildWithSiteFiles})
