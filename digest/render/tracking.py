"""digest's own open pixel and click redirect, put into an edition rendered once.

For SMTP and outbox sends only (SendGrid tracks opens and clicks itself), and only when
``[tracking] opens`` / ``clicks`` ask for it. ``tracked()`` runs once per edition and send, on the
finished HTML: each story link becomes ``{public_url}/c/{reader}/{sig}?u={url}`` and a 1x1 image
``{public_url}/o/{reader}`` closes the body.

- ``sig`` signs (edition, link URL), made here, once per link per edition: the redirect only
  ever sends a reader to a URL this edition links to, so it is no open redirect.
- ``{reader}`` is a new placeholder (key ``reader``) filled per subscriber like the unsubscribe
  link: a signed token of (ledger row, edition), one HMAC per subscriber, so the
  per-subscriber work stays a fill.

Only the HTML part is tracked: the text part keeps readable links.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import replace
from urllib.parse import quote

from digest.models import Rendered
from digest.render.personalize import new_nonce
from digest.tokens import TokenSigner

READER = "reader"  # the placeholder key of the per-subscriber part
LINK_PURPOSE = "link"
READER_PURPOSE = "reader"
_HREF = re.compile(r'href="(https?://[^"]+)"')


def link_text(edition_id: str, url: str) -> str:
    """What a link's signature covers."""
    return f"{edition_id}\n{url}"


def click_url(public_url: str, reader: str, signature: str, url: str) -> str:
    return f"{public_url}/c/{reader}/{signature}?u={quote(url, safe='')}"


def open_url(public_url: str, reader: str) -> str:
    return f"{public_url}/o/{reader}"


def _token(rendered: Rendered) -> str:
    while True:
        token = f"__dg{new_nonce()}h_{READER}__"
        if token not in rendered.html:
            return token


def tracked(
    rendered: Rendered,
    *,
    edition_id: str,
    public_url: str,
    signer: TokenSigner,
    opens: bool,
    clicks: bool,
) -> Rendered:
    """The rendering with its links and pixel in place; unchanged when neither is asked for."""
    if not (opens or clicks):
        return rendered
    links = signer.derived(LINK_PURPOSE)
    token = _token(rendered)
    html = rendered.html
    own = public_url + "/"
    if clicks:

        def swap(match: re.Match) -> str:
            url = html_lib.unescape(match.group(1))
            if url.startswith(own) or url == public_url:
                return match.group(0)  # the archive, our own pages: not a story
            sig = links.mac(link_text(edition_id, url))
            return f'href="{html_lib.escape(click_url(public_url, token, sig, url))}"'

        html = _HREF.sub(swap, html)
    if opens:
        pixel = (
            f'<img src="{open_url(public_url, token)}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0" />'
        )
        at = html.rfind("</body>")
        html = html[:at] + pixel + html[at:] if at >= 0 else html + pixel
    tokens = {part: dict(keys) for part, keys in rendered.tokens.items()}
    tokens.setdefault("html", {})[READER] = token
    return replace(rendered, html=html, tokens=tokens)


def reader_value(signer: TokenSigner, delivery_id: int | None, edition_id: str) -> str:
    """The per-subscriber part: a signed (ledger row, edition); 0 when there is no row."""
    return signer.make(delivery_id or 0, edition_id)
