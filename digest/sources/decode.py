"""Content-Encoding undone with bounded memory, so the size cap counts what is produced.

httpx's own decoders hand each layer's whole output to the next: a 1.8 kB body sent as
``Content-Encoding: gzip, gzip`` turned one network chunk into 2 GB before the 5 MB cap was
ever consulted. Here every layer is a ``zlib.decompressobj`` asked for at most ``PIECE``
bytes at a time; a piece goes through the next layer before the layer is asked for more, and
the caller counts the final output as it comes. In flight at any moment: one piece per layer
plus the zlib windows, whatever the ratio.

Supported: ``gzip`` (``x-gzip``, several members too), ``deflate`` (zlib-wrapped, or raw as
some servers send it), ``identity``; at most ``MAX_LAYERS`` of them stacked. We ask for
exactly these (``ACCEPT_ENCODING``); anything else is refused by name rather than parsed as
garbage. Brotli and zstd are not asked for: decoding them needs another library.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from digest.errors import SourceError

ACCEPT_ENCODING = "gzip, deflate"
MAX_LAYERS = 2  # "gzip, gzip" has honest uses (a proxy re-compressing); three has none
PIECE = 64 * 1024


class _Layer:
    def __init__(self, name: str) -> None:
        self.name = name
        self._z = None  # made on the first bytes for deflate, whose flavour they tell
        self._head = b""  # deflate: the first bytes, until we know whether it is zlib-wrapped
        if name == "gzip":
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:  # deflate, flavour not known yet
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._z = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        while data:
            out = self._z.decompress(data, PIECE)
            if out:
                yield out
            # Output may be pending even with all input taken: ask again while pieces are full.
            while len(out) == PIECE and not self._z.unconsumed_tail:
                out = self._z.decompress(b"", PIECE)
                if out:
                    yield out
            if self._z.eof and self._z.unused_data and self.name == "gzip":
                data = self._z.unused_data  # the next gzip member
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = self._z.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        if self._z is None:
            if self._head:  # a one-byte deflate body: never valid
                raise zlib.error("truncated deflate stream")
            return
        while True:  # drain in pieces: flush() has no output limit
            out = self._z.decompress(b"", PIECE)
            if not out:
                break
            yield out
        tail = self._z.flush()
        if tail:
            yield tail


def encodings(header: str | None, where: str) -> list[str]:
    """The layers to undo, outermost first, from a Content-Encoding header."""
    names = [n.strip().lower() for n in (header or "").split(",")]
    names = ["gzip" if n == "x-gzip" else n for n in names if n and n != "identity"]
    unknown = sorted({n for n in names if n not in ("gzip", "deflate")})
    if unknown:
        raise SourceError(
            f"{where} is sent with Content-Encoding {', '.join(unknown)}, "
            "which digest does not decode (it asks for gzip or deflate)"
        )
    if len(names) > MAX_LAYERS:
        raise SourceError(
            f"{where} is compressed {len(names)} times over "
            f"(Content-Encoding: {header}); at most {MAX_LAYERS} are accepted"
        )
    return names[::-1]  # listed in the order applied: undo the last one first


def decoded(raw: Iterable[bytes], layers: list[str], where: str) -> Iterator[bytes]:
    """The decoded body, piece by piece; a corrupt stream is a SourceError naming ``where``."""
    chain = [_Layer(name) for name in layers]
    try:
        for chunk in raw:
            yield from _through(chain, chunk)
        for index, layer in enumerate(chain):
            for piece in layer.finish():
                yield from _through(chain[index + 1 :], piece)
    except zlib.error as exc:
        raise SourceError(f"{where} sent a corrupt {'/'.join(layers)} body ({exc})") from None


def _through(chain: list[_Layer], data: bytes) -> Iterator[bytes]:
    if not chain:
        if data:
            yield data
        return
    for piece in chain[0].feed(data):
        yield from _through(chain[1:], piece)
