"""Which addresses a source may reach, enforced where the TCP connection is made.

A feed URL comes from a config file or the command line, and its redirects come from whoever
runs the server. Either can point the fetcher at the machine it runs on (``127.0.0.1``), the
office network (``10.x``, ``192.168.x``), or the cloud provider's metadata service
(``169.254.169.254``, which hands out credentials). Checking the *name* in the URL is not
enough: ``feeds.example.com`` may resolve to 127.0.0.1 (or answer a public address when checked
and 127.0.0.1 when connected to: DNS rebinding), and ``http://2130706433/`` is 127.0.0.1 too.

So the check sits in the one place that decides which address we connect to: an httpcore
network backend (``GuardedBackend``). For every new connection it resolves the host itself
(``Resolver``, injectable), vets *every* address the name resolves to, refuses the connection
when any of them is not allowed, and then connects to the vetted IP. httpcore still knows the
origin by its hostname, so the Host header, TLS SNI and certificate verification all stay on
the hostname. Nothing is sent before the address is vetted.

The same backend holds the fetch's deadline: each socket read, write and TLS handshake gets
at most the time left, so a server that drips its headers one byte a second is cut off when
the fetch's time is up, not after ``timeout`` per byte.

``GuardedTransport`` puts that backend under httpx. One is made per fetch (see fetch.py): a
connection pooled across sources would carry one source's ``allow_private`` and deadline into
another's.

Not covered: environment proxies (``HTTP_PROXY``) are not used, since through a proxy the
address actually reached cannot be vetted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from digest.errors import SourceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses to try, as strings ("192.0.2.1", "2001:db8::1").
Resolver = Callable[[str, int], Sequence[str]]

# Instance metadata services (credentials, user data). Never reached, allow_private or not.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (older)
    )
)
# NAT64 prefixes: 64:ff9b::7f00:1 reaches 127.0.0.1 through a NAT64 gateway.
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
RULE = "only a source with allow_private = true may fetch from one"


class AddressRefused(SourceError):
    """A connection refused by the address rules; the message says which address and why."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv4 or IPv6 sockaddr starts with the address as text (str() only tells mypy so).
    return list(dict.fromkeys(str(info[4][0]) for info in infos))  # unique, in resolver's order


def kind_of(ip: IPAddress) -> str | None:
    """What makes this address off limits ("a loopback address"), or None for a public one."""
    if ip in METADATA:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 is judged as the IPv4 address it reaches.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return kind_of(embedded)
    for test, kind in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),  # before is_private, which includes 240/4
        ("is_private", "a private address"),
    ):
        if getattr(ip, test):
            return kind
    if not ip.is_global:  # 100.64.0.0/10 (carrier-grade NAT), benchmarking nets, ...
        return "a non-public address"
    return None


@dataclass(frozen=True)
class AddressRules:
    allow_private: bool = False  # the source's `allow_private = true`: an intranet feed
    # Networks treated as public. Only tests set this (their servers live on loopback); it
    # never lifts the metadata ban.
    trusted: tuple[IPNetwork, ...] = ()

    def refusal(self, host: str, ip: IPAddress) -> str | None:
        kind = kind_of(ip)
        if kind is None:
            return None
        what = f"{host} is {kind}" if host == str(ip) else f"{host} resolves to {ip}, {kind}"
        if kind == "a cloud metadata address":
            return f"{what}, which is never fetched"
        if self.allow_private or any(ip in net for net in self.trusted):
            return None
        return f"{what}; {RULE}"

    def check_literal(self, host: str) -> None:
        """Refuse an IP-literal host up front (a redirect to http://10.0.0.1/, say)."""
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: judged when it is resolved, at connect time
        reason = self.refusal(str(ip), ip)
        if reason:
            raise AddressRefused(reason)


class Deadline:
    """The moment a whole fetch must be over, shared by every step of it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def left(self, timeout: float | None, exc: type[Exception]) -> float:
        """The time this step may take: its own timeout, but never past the deadline."""
        left = self.expires - time.monotonic()
        if left <= 0:
            raise exc(f"the {self.seconds:g} s deadline passed")
        return left if timeout is None else min(timeout, left)

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.expires


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> DeadlineStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve, vet every address, connect to a vetted one; all within the deadline."""

    def __init__(self, rules: AddressRules, resolver: Resolver, deadline: Deadline) -> None:
        self._rules, self._resolver, self._deadline = rules, resolver, deadline
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = self._resolve(host, port)
        for ip in addresses:
            reason = self._rules.refusal(host, ip)
            if reason:
                raise AddressRefused(reason)
        failure: Exception | None = None
        for ip in addresses:  # the resolver's order, like socket.create_connection
            try:
                stream = self._sockets.connect_tcp(
                    str(ip),
                    port,
                    self._deadline.left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return DeadlineStream(stream, self._deadline)
        raise failure or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not a source")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]  # a literal: no lookup
        except ValueError:
            pass
        # getaddrinfo has no timeout of its own: it runs in a thread we stop waiting for at
        # the deadline (the thread ends when the system resolver gives up).
        found: list[str] = []
        errors: list[Exception] = []

        def lookup() -> None:
            try:
                found.extend(self._resolver(host, port))
            except Exception as exc:  # noqa: BLE001 - re-raised in the fetching thread below
                errors.append(exc)

        worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
        worker.start()
        worker.join(self._deadline.left(None, httpcore.ConnectTimeout))
        if worker.is_alive():
            raise httpcore.ConnectTimeout(f"resolving {host} outlasted the deadline")
        error = errors[0] if errors else None
        if isinstance(error, socket.gaierror):
            raise httpcore.ConnectError(f"{host} could not be resolved ({error.strerror})")
        if error is not None:
            raise httpcore.ConnectError(f"{host} could not be resolved ({error})")
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        except ValueError as exc:
            raise httpcore.ConnectError(f"{host} resolved to a bad address: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        return addresses


# httpcore's errors as the httpx ones the fetcher catches; most specific first.
_ERRORS = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except (
        httpcore.TimeoutException,
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.UnsupportedProtocol,
    ) as exc:
        mapped = next(ours for theirs, ours in _ERRORS if isinstance(exc, theirs))
        raise mapped(str(exc)) from exc


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over httpcore with ``GuardedBackend`` underneath (HTTP/1.1)."""

    def __init__(self, backend: GuardedBackend, ssl_context) -> None:
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core)
        assert isinstance(response.stream, Iterable)  # a synchronous pool streams synchronously
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
