"""Where the files digest reads at run time live: the email templates and the starter site.

The repository keeps them at its top level (``templates/``, ``digest.toml``, ``samples/``,
``subscribers/``): that layout is part of the design. A wheel carries a copy of them inside the
package, under ``digest/_data/`` (setup.py's build step puts it there). An editable install or a
checkout has no such copy and reads the repository's own files, so an edit to ``templates/``
shows at once.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from digest.errors import DigestError

# The starter site `digest init` writes, relative to the data root: the same paths as in the
# repository, so the repository's digest.toml works unchanged in the new folder.
STARTER_FILES = (
    "digest.toml",
    "samples/homepage-fr.txt",
    "samples/feed-ar.xml",
    "subscribers/matinale-example.csv",
    "subscribers/FORMAT.md",
)
TEMPLATES = "templates"


def data_root() -> Path:
    """The folder holding ``templates/`` and the starter site's files."""
    package = Path(str(files("digest")))
    # The wheel's copy comes first: next to an installed package, a top-level folder named
    # "templates" would belong to some other distribution.
    for root in (package / "_data", package.parent):
        if (root / TEMPLATES / "email.mjml.j2").is_file():
            return root
    raise DigestError(
        f"digest's templates are missing from {package}: reinstall digest "
        "(pip install --force-reinstall digest)"
    )


def default_templates() -> Path:
    """The email templates used when a config names no ``templates_dir``."""
    return data_root() / TEMPLATES
