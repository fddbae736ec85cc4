"""X-Forwarded-For: believed only from [web] trusted_proxies, and then read from the right,
so a client cannot choose the address the rate limits count it under."""

from ipaddress import ip_network

import pytest

from digest.errors import ConfigError
from digest.web.clientaddr import client_address
from tests.hostile.webparts import *  # noqa: F403 - the web fixtures
from tests.hostile.webparts import Peer, web_app, with_web_table

PROXY = (ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        # No trusted proxy: the peer, whatever the header says.
        ("203.0.113.9", ["1.1.1.1"], "203.0.113.9"),
        # Through the proxy: the hop it saw.
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        # A client's own header is kept by the proxy, which appends the real peer: the
        # rightmost untrusted hop counts, not what the client wrote.
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),  # two header lines
        # Chained trusted proxies are skipped.
        ("127.0.0.1", ["198.51.100.7, 10.1.2.3"], "198.51.100.7"),
        # Ports and brackets, IPv6.
        ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("127.0.0.1", ["198.51.100.7:5000"], "198.51.100.7"),
        # Garbage where an address should be: the last trusted hop, never the garbage.
        ("127.0.0.1", ["198.51.100.7, not-an-ip"], "127.0.0.1"),
        # Through the proxy with no header: the proxy itself.
        ("127.0.0.1", [], "127.0.0.1"),
    ],
)
def test_client_address(peer, forwarded, expected):
    """Attack: forged, chained and garbled X-Forwarded-For headers."""
    trusted = () if peer == "203.0.113.9" else PROXY
    assert client_address(peer, forwarded, trusted) == expected


def test_the_default_trusts_no_proxy(web_config):
    assert web_config.web.trusted_proxies == ()


@pytest.mark.parametrize("value", [["localhost"], ["10.0.0.0/33"], [1], "127.0.0.1"])
def test_bad_trusted_proxies_are_a_config_error(web_config, value):
    with pytest.raises(ConfigError) as info:
        with_web_table(web_config, trusted_proxies=value)
    assert "web.trusted_proxies" in str(info.value) and "\n" not in str(info.value)


def test_clients_behind_a_trusted_proxy_are_told_apart(web_config, web_db):
    """Attack: behind the site's proxy, one client guesses passwords, another is the editor;
    the attacker also forges X-Forwarded-For to pass for the editor."""
    config = with_web_table(web_config, trusted_proxies=["127.0.0.1"])
    proxy = Peer(web_app(config, web_db), "127.0.0.1")
    editor = Peer(proxy.http._transport.app, "127.0.0.1", loop=proxy.loop)
    attacker = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}  # forged, then the real hop
    try:
        statuses = [proxy.login(password=f"g{i}", headers=attacker).status_code for i in range(6)]
        assert statuses == [401] * 5 + [429]
        # The editor, at the address the attacker forged, is not locked out.
        assert editor.login(headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 303
    finally:
        editor.close()
        proxy.close()


def test_signup_limit_counts_the_same_client(web_config, web_db):
    """The signup form's per-client limit uses the same address as the login's."""
    config = with_web_table(web_config, trusted_proxies=["127.0.0.1"])
    proxy = Peer(web_app(config, web_db), "127.0.0.1")
    try:

        def signup(n, client):
            return proxy.post(
                "/signup",
                headers={"X-Forwarded-For": client},
                data={
                    "csrf": proxy.csrf("/signup"),
                    "list": "matinale",
                    "email": f"reader{n}@example.net",
                },
            ).status_code

        assert [signup(n, "203.0.113.9") for n in range(6)] == [200] * 5 + [429]
        assert signup(7, "198.51.100.7") == 200  # another client behind the same proxy
    finally:
        proxy.close()
