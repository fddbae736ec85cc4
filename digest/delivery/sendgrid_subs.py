"""SendGrid substitutions with each value once, and a request body the library cannot waste.

A rendered edition has two tokens per personal value (one in the HTML part, one in the text
part), and both links carry the same signed token. Sent as they are, each of 1,000
personalizations would carry three values twice and the signed token four times. So, per
request (SendGrid substitutions are plain string replacements over the content):

- **Links**: when every recipient's ``unsubscribe_url`` and ``preferences_url`` are one fixed
  prefix each followed by the same last path segment of URL-unreserved characters
  (``{public_url}/u/{token}`` and ``/p/{token}``), the content carries the prefixes itself and
  one ``link`` token, and each personalization carries the signed token once. Such a token
  needs no escaping anywhere, so the request writes it as it is, List-Unsubscribe included.
- **Other values** (the greeting): when no recipient's value changes under HTML escaping, the
  text part uses the HTML part's token, and the value goes once.

Both checks are made on every recipient of the batch; when one fails, that batch falls back to
the plain form (every token, escaped values for the HTML part), which is always right. The
content for each form is made once per send and reused.
"""

from __future__ import annotations

import html as _html
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from digest.delivery.base import SendJob

LINK_KEYS = ("unsubscribe_url", "preferences_url")
_NEEDS_ESCAPE = re.compile(r"[&<>\"']")
# A link's last segment that can go as one token: URL-unreserved characters (RFC 3986), which
# no JSON, HTML, header or URL needs to escape. Signed tokens are (hex, list name, base64url).
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+\Z")


def _escape(value: str) -> str:
    return _html.escape(value, quote=True) if _NEEDS_ESCAPE.search(value) else value


class Links(NamedTuple):
    """A request's links as one token: the token's key, each link's fixed part (in LINK_KEYS
    order), and each recipient's token, of URL-unreserved characters only, so that no JSON,
    HTML, header or URL needs to escape it."""

    key: str
    prefixes: tuple[str, ...]
    tokens: list[str]


class Rows(NamedTuple):
    """One request's substitutions, as ``Substitutions.rows`` makes them: the content they fill,
    the links (when they go as one token), and each recipient's values of ``keys``, in order."""

    content: tuple[str, str]  # (text, html)
    links: Links | None
    keys: tuple[str, ...]
    values: list[list[str]]

    def as_dict(self, i: int) -> dict[str, str]:
        """Recipient ``i``'s substitutions as SendGrid takes them."""
        subs = {self.links.key: self.links.tokens[i]} if self.links else {}
        subs.update(zip(self.keys, self.values[i], strict=True))
        return subs


class Substitutions:
    """Built once per send job; ``rows()`` once per request."""

    def __init__(self, job: SendJob):
        self.job = job
        tokens = job.rendered.tokens
        self._html = dict(tokens.get("html", {}))
        self._text = dict(tokens.get("text", {}))
        self.keys = tuple(dict.fromkeys([*self._html, *self._text]))
        # A fresh random token per send: no source text can hold it.
        self.link = f"__dg{secrets.token_hex(8)}k_link__"
        self._links_possible = all(k in self._html and k in self._text for k in LINK_KEYS)
        self._contents: dict[tuple, tuple[str, str]] = {}

    def rows(self, values: Sequence[Mapping[str, str]]) -> Rows:
        """This request's content and each recipient's values, each value once where it can."""
        prefixes = self._link_prefixes(values)
        linked = LINK_KEYS if prefixes else ()
        rest = [k for k in self.keys if k not in linked]
        shared = tuple(
            k
            for k in rest
            if k in self._html
            and k in self._text
            and all(_NEEDS_ESCAPE.search(v[k]) is None for v in values)
        )
        content = self._content(prefixes, shared)
        html_tok, text_tok = self._html, self._text
        keys = [html_tok[k] for k in shared]
        plain = []  # (key, escaped for HTML?) in the order of their tokens
        for k in rest:
            if k in shared:
                continue
            if html_tok.get(k):
                keys.append(html_tok[k])
                plain.append((k, True))
            if text_tok.get(k):
                keys.append(text_tok[k])
                plain.append((k, False))
        links = None
        if prefixes:
            skip = len(prefixes[0])
            links = Links(self.link, prefixes, [v[LINK_KEYS[0]][skip:] for v in values])
        out = []
        for v in values:
            row = [v[k] for k in shared]
            for key, escaped in plain:
                row.append(_escape(v[key]) if escaped else v[key])
            out.append(row)
        return Rows(content, links, tuple(keys), out)

    def _link_prefixes(self, values: Sequence[Mapping[str, str]]) -> tuple[str, ...] | None:
        """The fixed prefix of each link key, when every recipient's links are those prefixes
        and one shared segment of URL-unreserved characters; else None."""
        if not self._links_possible or not values:
            return None
        first = values[0]
        segment = first[LINK_KEYS[0]].rpartition("/")[2]
        if not segment:
            return None
        prefixes = []
        for key in LINK_KEYS:
            link = first[key]
            if not link.endswith(segment):
                return None
            prefixes.append(link[: len(link) - len(segment)])
        skip = len(prefixes[0])
        for v in values:
            segment = v[LINK_KEYS[0]][skip:]
            if not _PLAIN_SEGMENT.match(segment):
                return None
            for key, prefix in zip(LINK_KEYS, prefixes, strict=True):
                if v[key] != prefix + segment:
                    return None
        return tuple(prefixes)

    def _content(
        self, prefixes: tuple[str, ...] | None, shared: tuple[str, ...]
    ) -> tuple[str, str]:
        key = (prefixes, shared)
        content = self._contents.get(key)
        if content is None:
            html, text = self.job.rendered.html, self.job.rendered.text
            if prefixes:
                for name, prefix in zip(LINK_KEYS, prefixes, strict=True):
                    html = html.replace(self._html[name], _escape(prefix) + self.link)
                    text = text.replace(self._text[name], prefix + self.link)
            for name in shared:
                text = text.replace(self._text[name], self._html[name])
            content = self._contents[key] = (text, html)
        return content


class JsonBody(str):
    """A request body already serialized, for ``python_http_client``: it sends a body given
    with a non-JSON Content-Type as ``body.encode("utf-8")`` instead of ``json.dumps`` (which
    would quote the string again), and then formats the bytes into a debug message on every
    request whether or not debug logging is on (about 7% of the sender's CPU for a 1 MB body).
    ``encode`` hands it bytes that format as their size."""

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return _Payload(str.encode(self, encoding, errors))


class _Payload(bytes):
    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return f"<{len(self):,} bytes of JSON>"

    def __str__(self) -> str:
        return self.__format__("")

    __repr__ = __str__
