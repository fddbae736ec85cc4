"""digest: a news site's day as a morning email."""

from importlib.metadata import PackageNotFoundError, version

# One version: pyproject.toml's, read back from the installed package's metadata.
try:
    __version__ = version("digest")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
