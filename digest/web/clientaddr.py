"""Who the client is: the one place that decides, for the rate limits and the access log.

The socket peer, unless it is one of ``[web] trusted_proxies``: then the proxy's
``X-Forwarded-For`` is read from the right (the hop the nearest proxy saw) past any further
trusted proxies. Anything to the left of the first untrusted hop was written by the client and
is ignored, so a client cannot pick its own address by sending the header. With no trusted
proxies (the default) the header is never read.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address

Networks = tuple[IPv4Network | IPv6Network, ...]
UNKNOWN = "?"


def client_address(peer: str | None, forwarded_for: list[str], trusted: Networks) -> str:
    """The client's address. ``forwarded_for``: every X-Forwarded-For header value, in order."""
    if peer is None:
        return UNKNOWN
    if not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    address = peer
    for raw in reversed(hops):
        hop = _bare(raw)
        if hop is None:  # garbage where a trusted proxy should have written an address
            return address
        address = hop
        if not _trusted(hop, trusted):
            return hop
    return address


def _trusted(address: str, trusted: Networks) -> bool:
    if not trusted:
        return False
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def _bare(hop: str) -> str | None:
    """An address from one X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:5", "[::1]:5"), or None."""
    if hop.startswith("["):
        hop = hop[1:].split("]", 1)[0]
    elif hop.count(":") == 1:
        hop = hop.split(":", 1)[0]
    try:
        return str(ip_address(hop))
    except ValueError:
        return None


class ClientAddress:
    """Puts the client's address into ``scope["client"]`` once, before anything reads it; the
    server's access log reads the same scope, so it logs the same address."""

    def __init__(self, app, *, trusted: Networks = ()):
        self.app, self.trusted = app, trusted

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and self.trusted:
            peer = scope.get("client")
            forwarded = [
                v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"
            ]
            address = client_address(peer[0] if peer else None, forwarded, self.trusted)
            if peer is None or address != peer[0]:
                scope["client"] = (address, peer[1] if peer else 0)
        await self.app(scope, receive, send)
