"""The outside tools some email checks run (the official MJML compiler, axe-core, SpamAssassin).

A check whose tool is missing is skipped on a developer's machine, with how to install it; under
CI (the CI environment variable set, as .ci/run and CI services do) it fails instead, so a
broken install can never turn the check into a silent skip. .ci/run installs them all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / ".ci" / "node"  # package.json + package-lock.json; `npm ci` installs there
NODE_MODULES = NODE_DIR / "node_modules"
NPM_CI = f"cd {NODE_DIR.relative_to(ROOT)} && npm ci --ignore-scripts"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip (locally) or fail (under CI) because a tool is absent."""
    if in_ci():
        pytest.fail(f"CI is set and {reason}", pytrace=False)
    pytest.skip(reason)


def node_file(relative: str, package: str) -> Path:
    """A file of an npm package from .ci/node (``mjml``, ``axe-core``), with Node itself."""
    path = NODE_MODULES / relative
    if shutil.which("node") is None:
        missing("Node.js is not installed (apt-get install nodejs npm)")
    if not path.exists():
        missing(f"{package} is not installed in {NODE_DIR.relative_to(ROOT)} ({NPM_CI})")
    return path


def program(name: str, debian_package: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (apt-get install {debian_package})")
    assert path is not None
    return path
