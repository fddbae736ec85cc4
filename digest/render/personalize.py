"""Per-subscriber values without re-rendering: placeholder tokens and a cheap filler.

An edition is rendered once with a placeholder token wherever a per-subscriber value goes
(the greeting line, the unsubscribe and preference links). Tokens look like
``__dg<16 hex>h_unsubscribe_url__`` (HTML part) and ``__dg<16 hex>t_unsubscribe_url__`` (text
part): ASCII letters, digits and underscores only, so MJML, premailer and lxml carry them
through text nodes and ``href`` attributes untouched; a fresh random nonce per render, so no
source text can forge one; a different token per part, so a substitution service can give the
HTML part an HTML-escaped value and the text part the raw value.

``Personalizer`` splits the rendered parts once; ``fill()`` then only escapes a few values and
joins a short list of strings.
"""

from __future__ import annotations

import html as _html
import re
import secrets
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from digest.models import Rendered

SLOT_KEYS: tuple[str, ...] = ("greeting", "unsubscribe_url", "preferences_url")
PARTS = {"html": "h", "text": "t"}
_KEY_RE = re.compile(r"[a-z][a-z0-9_]*\Z")


def new_nonce() -> str:
    """16 random hex digits (64 bits): unguessable by whoever wrote the source content."""
    return secrets.token_hex(8)


def make_tokens(nonce: str, keys: Iterable[str] = SLOT_KEYS) -> Mapping[str, Mapping[str, str]]:
    """``{"html": {key: token}, "text": {key: token}}`` for one render."""
    if not re.fullmatch(r"[0-9a-zA-Z]+", nonce):
        raise ValueError("a nonce is ASCII letters and digits only")
    keys = tuple(keys)
    for key in keys:
        if not _KEY_RE.match(key):
            raise ValueError(f"slot key {key!r} must be lowercase ASCII letters, digits, '_'")
    return MappingProxyType(
        {
            part: MappingProxyType({key: f"__dg{nonce}{letter}_{key}__" for key in keys})
            for part, letter in PARTS.items()
        }
    )


def _split(
    document: str, tokens: Mapping[str, str]
) -> tuple[list[str], tuple[tuple[int, str], ...]]:
    """Literal chunks with ``""`` where a token stood, and (index, key) for each of those.

    Literal chunks are never empty, so the ``""`` are exactly the slots ``fill`` overwrites.
    """
    if not tokens:
        return [document], ()
    by_token = {token: key for key, token in tokens.items()}
    pattern = re.compile("(" + "|".join(re.escape(t) for t in by_token) + ")")
    pieces = pattern.split(document)
    chunks: list[str] = []
    slots = []
    for i, piece in enumerate(pieces):
        if i % 2:  # odd indices are the captured tokens
            slots.append((len(chunks), by_token[piece]))
            chunks.append("")
        elif piece:
            chunks.append(piece)
    return chunks, tuple(slots)


_NEEDS_ESCAPE = re.compile(r"[&<>\"']")


def _escape(value: str) -> str:
    # Most values (signed URLs, plain names) need no escaping; searching is cheaper than escaping.
    return _html.escape(value, quote=True) if _NEEDS_ESCAPE.search(value) else value


class Personalizer:
    """Built once per rendered edition; ``fill()`` once per subscriber.

    >>> p = Personalizer(rendered)
    >>> html, text = p.fill({"greeting": "Bonjour Amina,", "unsubscribe_url": "https://...",
    ...                      "preferences_url": "https://..."})
    """

    __slots__ = (
        "tokens",
        "keys",
        "_html",
        "_html_slots",
        "_html_keys",
        "_text",
        "_text_slots",
        "_html_tokens",
        "_text_tokens",
    )

    def __init__(self, rendered: Rendered):
        tokens = rendered.tokens
        self.tokens = tokens
        self.keys = frozenset(tokens.get("html", {})) | frozenset(tokens.get("text", {}))
        self._html, self._html_slots = _split(rendered.html, tokens.get("html", {}))
        self._text, self._text_slots = _split(rendered.text, tokens.get("text", {}))
        self._html_keys = tuple(dict.fromkeys(key for _, key in self._html_slots))
        self._html_tokens = tuple(tokens.get("html", {}).items())
        self._text_tokens = tuple(tokens.get("text", {}).items())

    def slot_counts(self) -> dict[str, dict[str, int]]:
        """How many times each key occurs in each part (for checks and tests)."""
        counts: dict[str, dict[str, int]] = {"html": {}, "text": {}}
        for part, slots in (("html", self._html_slots), ("text", self._text_slots)):
            for _, key in slots:
                counts[part][key] = counts[part].get(key, 0) + 1
        return counts

    def _check(self, values: Mapping[str, str]) -> None:
        missing = sorted(k for k in self.keys if k not in values)
        if missing:
            raise KeyError(f"no value for placeholder(s): {', '.join(missing)}")

    def fill(self, values: Mapping[str, str]) -> tuple[str, str]:
        """(html, text) for one subscriber. ``values`` are raw: escaped here for the HTML part."""
        try:
            escaped = {key: _escape(values[key]) for key in self._html_keys}
            html_parts = self._html.copy()
            for index, key in self._html_slots:
                html_parts[index] = escaped[key]
            text_parts = self._text.copy()
            for index, key in self._text_slots:
                text_parts[index] = values[key]
        except KeyError:
            self._check(values)
            raise
        return "".join(html_parts), "".join(text_parts)

    def substitutions(self, values: Mapping[str, str]) -> dict[str, str]:
        """Token -> value for a substitution service (e.g. SendGrid ``substitutions``):
        HTML tokens get the HTML-escaped value, text tokens the raw value."""
        try:
            subs = {token: _escape(values[key]) for key, token in self._html_tokens}
            for key, token in self._text_tokens:
                subs[token] = values[key]
        except KeyError:
            self._check(values)
            raise
        return subs


def compile_personalizer(rendered: Rendered) -> Personalizer:
    return Personalizer(rendered)
