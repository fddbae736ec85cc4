"""Attacks on memory: compression bombs, single and stacked, served by a real loopback server.

The bombs are real (256 MB of zeros, gzipped: 261 kB; gzipped twice: under 1 kB) and the
assertion is about memory, not time: tracemalloc's peak over the fetch must stay near the
5 MB cap. Before decode.py, httpx's decoders turned one 64 kB network read of the single bomb
into ~64 MB at once, and the double bomb into all 256 MB.
"""

import gzip
import tracemalloc
import zlib

import httpx
import pytest

from digest.errors import SourceError
from digest.sources import Fetcher
from digest.sources.decode import decoded, encodings

from .fetch_server import hostile_server, response

CAP = 5_000_000
BOMB_SIZE = 256 << 20


def gzip_stream(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed a megabyte at a time (never held whole)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [z.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + z.flush()


@pytest.fixture(scope="module")
def bombs():
    inner = gzip_stream(BOMB_SIZE)
    return {
        "/gzip": (inner, "gzip"),
        "/gzip-gzip": (gzip.compress(inner, 9), "gzip, gzip"),
        "/gzip-deflate": (zlib.compress(inner, 9), "gzip, deflate"),  # deflate applied last
        "/under-cap": (gzip.compress(gzip_stream(4 << 20), 9), "gzip, gzip"),
    }


@pytest.fixture(scope="module")
def bomb_server(bombs):
    def script(path):
        body, encoding = bombs[path]
        return [response(body, Content_Type="text/plain", Content_Encoding=encoding)]

    with hostile_server(script) as server:
        yield server


@pytest.mark.parametrize("path", ["/gzip", "/gzip-gzip", "/gzip-deflate"])
def test_compression_bomb_is_stopped_at_the_cap_with_bounded_memory(bomb_server, bombs, path):
    """Attack: a small body that decodes to 256 MB, through one or two encodings."""
    assert len(bombs[path][0]) < 300_000  # what actually crosses the wire
    url = bomb_server.url(path)
    with Fetcher("t") as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(SourceError) as info:
                fetcher.fetch(url, timeout=30, max_bytes=CAP, allow_private=True)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert str(info.value) == f"{url} is larger than the 5,000,000-byte limit (max_bytes)"
    assert peak < CAP + 3_000_000, f"peak {peak:,} bytes"


def test_a_double_gzipped_body_under_the_cap_is_decoded_exactly(bomb_server):
    """Not an attack: honest stacked encodings still decode, to the byte."""
    with Fetcher("t") as fetcher:
        got = fetcher.fetch(
            bomb_server.url("/under-cap"), timeout=30, max_bytes=CAP, allow_private=True
        )
    assert got.body == bytes(4 << 20)


TEXT = "".join(f"- 07:{i % 60:02d}Dépêche numéro {i}\n" for i in range(20_000)).encode()


@pytest.mark.parametrize(
    "header, encode",
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send it
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("gzip, deflate", lambda b: zlib.compress(gzip.compress(b))),
        ("identity, gzip", gzip.compress),
        ("gzip", lambda b: gzip.compress(b[:1000]) + gzip.compress(b[1000:])),  # two members
    ],
)
@pytest.mark.parametrize("chunk", [1, 4096, None])
def test_every_supported_encoding_decodes_exactly_in_any_chunking(header, encode, chunk):
    """Correctness of the bounded decoder, down to a server sending one byte per packet."""
    body = encode(TEXT)
    size = chunk or len(body)
    raw = (
        [body[i : i + size] for i in range(0, len(body), size)]
        if chunk != 1
        else [body[i : i + 1] for i in range(min(len(body), 3000))] + [body[3000:]]
    )
    assert b"".join(decoded(raw, encodings(header, "u"), "u")) == TEXT


def test_three_stacked_encodings_are_refused():
    """Attack: gzip, gzip, gzip -- each layer multiplies the ratio by ~1000."""
    with pytest.raises(SourceError, match=r"u is compressed 3 times over .* at most 2"):
        encodings("gzip, gzip, gzip", "u")


def test_an_encoding_we_did_not_ask_for_is_refused_by_name():
    """Attack: br or zstd (or a made-up name) sent although we asked for gzip/deflate only."""
    with pytest.raises(SourceError, match="Content-Encoding br, which digest does not decode"):
        encodings("br", "u")


def test_a_corrupt_gzip_body_is_a_sentence_not_a_traceback():
    body = gzip.compress(TEXT)
    bad = body[:20] + b"garbage" * 10 + body[90:]
    # An iterator, so httpx does not read (and decode) the mock body when it is made.
    f = Fetcher(
        "t",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, content=iter([bad]), headers={"content-encoding": "gzip"})
        ),
    )
    with pytest.raises(SourceError, match=r"https://x.example/ sent a corrupt gzip body"):
        f.fetch("https://x.example/", timeout=5, max_bytes=CAP)


def test_only_decodable_encodings_are_asked_for():
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return httpx.Response(200, content=b"ok")

    Fetcher("t", transport=httpx.MockTransport(handler)).fetch(
        "https://x.example/", timeout=5, max_bytes=10
    )
    assert seen["accept-encoding"] == "gzip, deflate"
