"""digest: a news site's day as a morning email."""

__version__ = "0.1.0"
