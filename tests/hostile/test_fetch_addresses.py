"""Attacks on where the fetcher connects: SSRF by name, by literal, by redirect, by DNS.

The servers are real (loopback, port 0) and count their connections, so "refused" is proven
to mean "nothing was sent", not "the answer was thrown away". DNS is a fake resolver handed
to the Fetcher: it answers what an attacker's name server would.
"""

import ipaddress
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest.config import SourceConfig, load_config
from digest.errors import ConfigError, SourceError
from digest.sources import Fetcher, read_source
from digest.sources.guard import kind_of

from .fetch_server import hostile_server, redirect, response

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Hello</title><link>https://news.example/a</link>"
    b"<pubDate>Tue, 01 Jul 2025 07:00:00 +0100</pubDate></item></channel></rss>"
)
LOOPBACK = ipaddress.ip_network("127.0.0.1/32")


def resolver(table):
    def resolve(host, port):
        if host not in table:
            raise OSError(f"no fake DNS entry for {host}")
        return table[host]

    return resolve


def feed_server(host="127.0.0.1"):
    return hostile_server(lambda path: [response(FEED, Content_Type="application/rss+xml")], host)


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped IPv6
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8: public
    ],
)
def test_every_non_public_address_is_classified(address, kind):
    """Attack: reach an internal service through any spelling of a non-public address."""
    assert kind_of(ipaddress.ip_address(address)) == kind


def test_public_name_resolving_to_loopback_is_refused_before_connecting():
    """Attack: DNS rebinding -- a public-looking name whose A record is 127.0.0.1."""
    with feed_server() as server:
        fetcher = Fetcher("t", resolver=resolver({"feeds.example": ["127.0.0.1"]}))
        with pytest.raises(SourceError) as info:
            fetcher.fetch(server.url("/feed", "feeds.example"), timeout=5, max_bytes=10_000)
        assert server.connections == 0
    assert str(info.value) == (
        f"{server.url('/feed', 'feeds.example')} was refused: feeds.example resolves to "
        "127.0.0.1, a loopback address; only a source with allow_private = true may fetch "
        "from one"
    )


def test_a_name_with_one_bad_address_among_good_ones_is_refused():
    """Attack: answer [public, loopback] and hope the fetcher tries the second one."""
    with feed_server() as server:
        fetcher = Fetcher("t", resolver=resolver({"mixed.example": ["93.184.216.34", "127.0.0.1"]}))
        with pytest.raises(SourceError, match="resolves to 127.0.0.1, a loopback address"):
            fetcher.fetch(server.url("/", "mixed.example"), timeout=5, max_bytes=10_000)
        assert server.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "localhost"])
def test_loopback_literals_and_odd_spellings_are_refused(host):
    """Attack: 127.0.0.1 written as a decimal number, in hex, or as 'localhost'."""
    with feed_server() as server:
        with Fetcher("t") as fetcher, pytest.raises(SourceError, match="loopback address"):
            fetcher.fetch(server.url("/", host), timeout=5, max_bytes=10_000)
        assert server.connections == 0


def test_metadata_address_is_refused_even_for_an_intranet_source():
    """Attack: an allow_private source (or its DNS) pointed at 169.254.169.254."""
    fetcher = Fetcher("t", resolver=resolver({"meta.example": ["169.254.169.254"]}))
    with pytest.raises(SourceError, match="a cloud metadata address, which is never fetched"):
        fetcher.fetch(
            "http://meta.example/latest/meta-data/", timeout=2, max_bytes=100, allow_private=True
        )


def test_allow_private_source_reaches_its_intranet_feed():
    """Not an attack: the intranet feed the operator asked for (allow_private = true)."""
    with feed_server() as server:
        cfg = SourceConfig(
            name="intranet", kind="auto", location=server.url("/feed"), allow_private=True
        )
        result = read_source(
            cfg,
            reference_time=datetime(2025, 7, 1, 8, 0),
            tz=ZoneInfo("Africa/Casablanca"),
            site_url="https://news.example",
            fetcher=Fetcher("t"),
        )
    assert result.ok and [s.title for s in result.stories] == ["Hello"]


def test_source_on_private_address_gets_a_sentence_naming_source_and_rule():
    """Attack: a config (or --source URL) aimed at a loopback service."""
    with feed_server() as server:
        cfg = SourceConfig(name="admin", kind="auto", location=server.url("/feed"))
        result = read_source(
            cfg,
            reference_time=datetime(2025, 7, 1, 8, 0),
            tz=ZoneInfo("Africa/Casablanca"),
            site_url="https://news.example",
            fetcher=Fetcher("t"),
        )
        assert server.connections == 0
    assert not result.stories
    assert result.error == (
        f"Source 'admin': {server.url('/feed')} was refused: 127.0.0.1 is "
        "a loopback address; only a source with allow_private = true may "
        "fetch from one."
    )


def test_redirect_from_a_public_site_to_a_private_name_is_refused():
    """Attack: a public feed answers 302 to a name that resolves into the private network."""
    with feed_server("127.0.0.2") as inside:

        def script(path):
            return [redirect(inside.url("/secret", "intranet.example"))]

        with hostile_server(script) as public:
            fetcher = Fetcher(
                "t",
                trusted_networks=[LOOPBACK],
                resolver=resolver(
                    {
                        "pub.example": ["127.0.0.1"],  # plays a public site (trusted_networks)
                        "intranet.example": ["127.0.0.2"],
                    }
                ),
            )
            url = public.url("/feed", "pub.example")
            with pytest.raises(SourceError) as info:
                fetcher.fetch(url, timeout=5, max_bytes=10_000)
            assert public.connections == 1
        assert inside.connections == 0
    assert str(info.value) == (
        f"{url} redirected to {inside.url('/secret', 'intranet.example')!r}, which was "
        "refused: intranet.example resolves to 127.0.0.2, a loopback address; only a source "
        "with allow_private = true may fetch from one"
    )


def test_redirect_to_a_private_literal_is_refused():
    """Attack: 302 Location: http://127.0.0.2:port/ (no DNS involved)."""
    with feed_server("127.0.0.2") as inside:
        with hostile_server(lambda path: [redirect(inside.url("/"))]) as public:
            fetcher = Fetcher(
                "t", trusted_networks=[LOOPBACK], resolver=resolver({"pub.example": ["127.0.0.1"]})
            )
            with pytest.raises(SourceError, match=r"which was refused: 127.0.0.2 is a loopback"):
                fetcher.fetch(public.url("/", "pub.example"), timeout=5, max_bytes=10_000)
        assert inside.connections == 0


def test_intranet_source_may_not_be_redirected_off_its_origin():
    """Attack: the intranet feed (allow_private) redirects to another internal service."""
    with feed_server() as other:
        with hostile_server(lambda path: [redirect(other.url("/admin"))]) as intranet:
            with Fetcher("t") as fetcher, pytest.raises(SourceError) as info:
                fetcher.fetch(
                    intranet.url("/feed"), timeout=5, max_bytes=10_000, allow_private=True
                )
        assert other.connections == 0
    assert (
        "another origin; a source with allow_private = true is never followed off its own "
        "origin" in str(info.value)
    )


def test_intranet_source_may_redirect_within_its_origin():
    """Not an attack: /old -> /feed on the same intranet host still works."""

    def script(path):
        if path == "/old":
            return [redirect("/feed")]
        return [response(FEED)]

    with hostile_server(script) as intranet, Fetcher("t") as fetcher:
        got = fetcher.fetch(intranet.url("/old"), timeout=5, max_bytes=10_000, allow_private=True)
    assert got.body == FEED and got.final_url == intranet.url("/feed")


def test_https_to_http_redirect_is_never_followed():
    """Attack: downgrade a TLS feed to plain http, where anyone on the path can rewrite it."""

    def handler(request):
        if request.url.scheme == "http":
            pytest.fail("the plain-http hop must not be requested")
        return httpx.Response(301, headers={"location": "http://news.example/feed"})

    fetcher = Fetcher("t", transport=httpx.MockTransport(handler))
    with pytest.raises(SourceError) as info:
        fetcher.fetch("https://news.example/feed", timeout=5, max_bytes=100)
    assert str(info.value) == (
        "https://news.example/feed redirected from https to plain http "
        "('http://news.example/feed'), which is never followed"
    )


def test_allow_private_is_a_boolean_per_source_in_the_config(tmp_path):
    """Config: `allow_private = true` per [[sources]]; off by default; a string is refused."""
    path = tmp_path / "digest.toml"
    site = (
        '[site]\nname = "N"\nurl = "https://n.example"\ntimezone = "UTC"\n'
        'locale = "en"\npostal_address = "1 Main St"\npublic_url = "https://n.example/d/"\n'
        '[sender]\nemail = "news@n.example"\n'
    )
    path.write_text(
        site + '[[sources]]\nname = "in"\nurl = "http://10.0.0.5/feed"\n'
        'allow_private = true\n[[sources]]\nname = "out"\n'
        'url = "https://n.example/feed"\n'
    )
    config = load_config(path, env={})
    assert [(s.name, s.allow_private) for s in config.sources] == [("in", True), ("out", False)]
    path.write_text(
        site + '[[sources]]\nname = "in"\nurl = "http://10.0.0.5/feed"\nallow_private = "yes"\n'
    )
    with pytest.raises(ConfigError, match="allow_private.*must be bool"):
        load_config(path, env={})


def test_refusal_of_the_source_itself_does_not_claim_a_redirect():
    """The URL as httpx normalizes it (a trailing slash added) is still the source's own."""
    with pytest.raises(SourceError) as info:
        Fetcher("t").fetch("http://127.0.0.1:9", timeout=1, max_bytes=10)
    assert str(info.value).startswith("http://127.0.0.1:9 was refused: 127.0.0.1 is a loopback")
