"""A real SMTP server on loopback for tests and benchmarks: aiosmtpd in a thread, on a port the
OS picks, recording every message and scriptable to misbehave.

    with SmtpTestServer() as server:                    # plain SMTP on 127.0.0.1:server.port
        ...send...
        server.wait_for(3)                              # block until 3 messages were accepted
        [m.rcpt_tos for m in server.messages]; server.connections

Options (keyword arguments, all optional):

- ``tls="starttls"`` offers STARTTLS, ``tls="implicit"`` speaks TLS from the first byte; both use
  a certificate for 127.0.0.1/localhost from a throwaway CA made at test time (trustme).
  ``client_context()`` is an ``ssl.SSLContext`` trusting that CA (one CA per process: give
  ``client_context(ca_pem())`` from the server's process to a client in another).
- ``auth=(user, password)`` enables AUTH PLAIN/LOGIN; MAIL is then refused (530) until the client
  logged in. Under ``tls="starttls"`` AUTH is offered only after STARTTLS, like real relays;
  otherwise from the start (``auth_require_tls`` overrides). Without ``auth`` no AUTH is offered.
  ``logins`` lists ``(mechanism, login, succeeded)``; passwords are never recorded.
- ``keep_data=False`` keeps envelopes but drops message bytes (long benchmarks).
- ``pipelining=False`` stops advertising PIPELINING (RFC 2920), which real relays offer and
  aiosmtpd handles (it reads commands one line at a time) but does not advertise itself.

Scriptable behaviour, read on every command, so tests may change it while the server runs:

- ``refuse_rcpt[address] = 550`` (or 450, or a whole reply line) answers RCPT TO for that address;
- ``fail_data[address] = 554`` (or 451, ...) answers the end of DATA for messages to that address;
- ``refuse_sender = 553`` (or a whole reply line, or None) answers every MAIL FROM; or a
  function of the number of messages accepted so far giving one of those
  (``lambda n: 553 if n >= 2 else None``: the sender is refused from the third message on);
- ``drop_after = N``: on each connection, once N messages were accepted, the next transaction is
  cut at ``drop_at`` ("mail": on MAIL FROM; "data": after the message data was received, before
  it is accepted, so it is NOT recorded; "queued": after the message was accepted and
  recorded, before the 250 is written: the relay has it, the client cannot know), by closing
  the socket without a word, or with ``drop_reply="421"`` by answering "421 ... closing" and
  then closing;
- ``max_connections = N``: after the N-th connection the server stops listening, so further
  connection attempts are refused by the OS (a relay that went away); open ones keep working.

Counters: ``connections`` (accepted TCP connections; a STARTTLS upgrade is not a new one),
``messages`` (``Received``: mail_from, rcpt_tos, data, connection number, mail_options),
``drops`` (connections cut as scripted), ``quits`` (QUIT commands answered).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"

_REPLIES = {
    421: "421 4.3.2 Service not available, closing transmission channel",
    450: "450 4.2.1 Mailbox temporarily unavailable, try again later",
    451: "451 4.3.0 Local error in processing, try again later",
    452: "452 4.3.1 Insufficient system storage",
    530: "530 5.7.0 Authentication required",
    550: "550 5.1.1 Mailbox unavailable: no such user here",
    553: "553 5.7.1 Sender address rejected: not owned by user",
    554: "554 5.7.1 Message rejected as spam",
}


def _reply(code_or_line: int | str, address: str = "") -> str:
    if isinstance(code_or_line, str):
        return code_or_line
    line = _REPLIES.get(code_or_line, f"{code_or_line} {code_or_line // 100}.0.0 Scripted reply")
    if not address:
        return line
    code, status, text = line.split(" ", 2)  # as Postfix says it: 550 5.1.1 <a@b>: text
    return f"{code} {status} <{address}>: {text}"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly as received after dot-unstuffing (b"" with keep_data=False)
    connection: int  # 1 for the first connection the server accepted, 2 for the next, ...
    mail_options: tuple[str, ...] = ()  # e.g. ("SIZE=30639", "BODY=8BITMIME")

    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=default_policy)


@functools.cache
def _test_ca():
    import trustme  # only the TLS tests need it

    ca = trustme.CA()
    return ca, ca.issue_cert(HOST, "localhost")


def ca_pem() -> bytes:
    """This process's test CA certificate (for a client in another process)."""
    return _test_ca()[0].cert_pem.bytes()


def client_context(ca: bytes | None = None) -> ssl.SSLContext:
    """A client context that trusts the test CA (this process's, or ``ca`` PEM) and nothing else."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    ctx.load_verify_locations(cadata=(ca or ca_pem()).decode("ascii"))
    return ctx


def _server_context() -> ssl.SSLContext:
    _, cert = _test_ca()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    return ctx


class _Session(SMTP):
    """One connection. Counts itself once: a STARTTLS upgrade calls connection_made again.

    DATA is read a few ``readuntil`` at a time instead of aiosmtpd's line-by-line loop, which
    costs about 2 ms per 30 KB message and alone kept the server under 500 messages/s. The
    stream limit is raised to let one read hold a whole message; command lines keep their own
    size limits.
    """

    line_length_limit = 1 << 20  # the most one message may weigh here (1 MiB)

    def __init__(self, owner: SmtpTestServer, **kwargs):
        super().__init__(owner, **kwargs)
        self.owner = owner
        self.number = 0
        self.accepted = 0  # messages accepted on this connection

    def connection_made(self, transport):
        if self.transport is None:
            self.number = self.owner._connected()
        super().connection_made(transport)

    def connection_lost(self, error):
        self.owner._sessions.discard(self)
        super().connection_lost(error)

    async def smtp_DATA(self, arg):
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        try:
            # Each read stops at the next line ending in "."; the end is a line that is only ".".
            while not (data.endswith(b"\r\n.\r\n") or data == b".\r\n"):
                data += await self._reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError:
            await self.push("552 5.3.4 Message too big for this test server")
            self.transport.close()
            return
        # Drop the ".\r\n" line, then un-stuff the dots the client doubled (RFC 5321 4.5.2):
        # one dot off every line that starts with one (replace, not a regex: 30x cheaper).
        content = bytes(data[:-3]).replace(b"\r\n.", b"\r\n")
        if content.startswith(b"."):
            content = content[1:]
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


class SmtpTestServer:
    """See the module docstring. Also the aiosmtpd handler (the handle_* hooks below)."""

    def __init__(
        self,
        *,
        tls: str | None = None,
        auth: tuple[str, str] | None = None,
        auth_require_tls: bool | None = None,
        keep_data: bool = True,
        pipelining: bool = True,
        hostname: str = "smtp.test",
        smtputf8: bool = True,
    ):
        if tls not in (None, "starttls", "implicit"):
            raise ValueError("tls is None, 'starttls' or 'implicit'")
        self.tls, self.auth, self.keep_data, self.hostname = tls, auth, keep_data, hostname
        self.pipelining = pipelining
        self.smtputf8 = smtputf8  # offer SMTPUTF8 in EHLO (RFC 6531)
        # Implicit TLS: aiosmtpd only knows about STARTTLS, so "require TLS for AUTH" would
        # hide AUTH on a connection that is encrypted from the start. (No attribute of this
        # handler may start with "auth_": aiosmtpd would offer it as an AUTH mechanism.)
        self.require_tls_for_auth = (
            (tls == "starttls" or not auth) if auth_require_tls is None else auth_require_tls
        )
        self.host = HOST
        self.port = 0
        self.refuse_rcpt: dict[str, int | str] = {}
        self.fail_data: dict[str, int | str] = {}
        self.refuse_sender: int | str | Callable[[int], int | str | None] | None = None
        self.drop_after: int | None = None
        self.drop_at = "mail"
        self.drop_reply: str | None = None
        self.max_connections: int | None = None
        self.connections = 0
        self.drops = 0
        self.quits = 0
        self.messages: list[Received] = []
        self.logins: list[tuple[str, str, bool]] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._sessions: set[_Session] = set()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        # Bind here, in the caller's thread: port 0 lets the OS pick a free port, known at once,
        # with no race between choosing a port and binding it (aiosmtpd's Controller wants one).
        # IPPROTO_TCP, not socket.create_server's 0: asyncio turns Nagle off (TCP_NODELAY) only
        # on sockets whose proto says TCP, and with Nagle on, a multi-line EHLO reply waits 40 ms
        # for the client's delayed ACK on every new connection.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind((HOST, 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._loop = loop = asyncio.new_event_loop()
        ready = threading.Event()
        implicit = _server_context() if self.tls == "implicit" else None

        def run():
            asyncio.set_event_loop(loop)
            self._listener = loop.run_until_complete(
                loop.create_server(self._session, sock=sock, ssl=implicit)
            )
            loop.call_soon(ready.set)
            loop.run_forever()
            # Stopped: close the listener and every open connection, let cancelled tasks end.
            self._listener.close()
            for s in list(self._sessions):
                if s.transport is not None:
                    s.transport.abort()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name=f"smtp-test-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("the test SMTP server did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client_context(self) -> ssl.SSLContext:
        return client_context()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least ``count`` messages were accepted; the messages so far."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} messages received, wanted {count}")
            return list(self.messages)

    def recipients(self) -> list[str]:
        """Every accepted recipient, in order of acceptance (duplicates show double delivery)."""
        with self._cond:
            return [r for m in self.messages for r in m.rcpt_tos]

    # --- inside the server thread ----------------------------------------------------------

    def _session(self) -> _Session:
        session = _Session(
            self,
            hostname=self.hostname,
            loop=self._loop,
            enable_SMTPUTF8=self.smtputf8,
            tls_context=_server_context() if self.tls == "starttls" else None,
            auth_require_tls=self.require_tls_for_auth,
            authenticator=self._authenticate if self.auth else None,
        )
        self._sessions.add(session)
        return session

    def _connected(self) -> int:
        with self._cond:
            self.connections += 1
            number = self.connections
        if self.max_connections is not None and number >= self.max_connections:
            self._listener.close()  # later connects get ECONNREFUSED; open ones carry on
        return number

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = False
        login = ""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            user, password = self.auth
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        with self._cond:
            self.logins.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False)

    def _drop(self, server: _Session, stage: str) -> str | None:
        """Cut the connection here if scripted to: the reply to send, or None to carry on."""
        if self.drop_after is None or self.drop_at != stage or server.accepted < self.drop_after:
            return None
        with self._cond:
            self.drops += 1
        if self.drop_reply:
            self._loop.call_soon(server.transport.close)  # after the reply is written
            return _reply(int(self.drop_reply))
        server.transport.abort()
        return "250 never seen: the connection is gone"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # aiosmtpd leaves this to an EHLO hook
        if self.pipelining:  # aiosmtpd reads pipelined commands fine, but does not say so
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_QUIT(self, server, session, envelope):
        with self._cond:
            self.quits += 1
        return "221 2.0.0 Bye"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.auth and not session.authenticated:
            return _reply(530)
        dropped = self._drop(server, "mail")
        if dropped:
            return dropped
        refusal = self.refuse_sender
        if callable(refusal):
            refusal = refusal(len(self.messages))
        if refusal is not None:
            return _reply(refusal, address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.refuse_rcpt.get(address)
        if code is not None:
            return _reply(code, address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        dropped = self._drop(server, "data")
        if dropped:
            return dropped
        for address in envelope.rcpt_tos:
            code = self.fail_data.get(address)
            if code is not None:
                return _reply(code, address)
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=envelope.original_content if self.keep_data else b"",
            connection=server.number,
            mail_options=tuple(envelope.mail_options),
        )
        cut = (
            self.drop_after is not None
            and self.drop_at == "queued"
            and server.accepted >= self.drop_after
        )
        with self._cond:
            self.messages.append(received)
            number = len(self.messages)
            self._cond.notify_all()
        server.accepted += 1
        if cut:  # queued, and the reply never leaves: the client cannot know it arrived
            with self._cond:
                self.drops += 1
            server.transport.abort()
            return "250 never seen: the connection is gone"
        return f"250 2.0.0 OK queued as T{number:06d}"


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes (for server-side effects)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
