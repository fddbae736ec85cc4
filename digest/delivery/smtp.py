"""SMTP delivery through a relay: one connection, opened lazily and kept across batches.

One message per transaction (MAIL, RCPT, DATA), each recipient with their own unsubscribe link.
Opening a connection costs a TCP handshake, EHLO, often TLS and AUTH: several round trips and
some CPU, more than one transaction. So the connection is opened on the first message and
reused until ``close()``; when it drops (the relay's idle timeout, a restart, a 421) it is
opened again once and the interrupted message sent again.

Per message the cost is kept to what differs: the MIME message is built once per job and
spliced per recipient (digest/delivery/mime_template.py); MAIL, RCPT and DATA go in one write
when the relay offers PIPELINING; and the next message is built while the relay digests the
current one. bench/bench_smtp.py has the figures.

How the relay's answers become outcomes (digest/delivery/base.py has the contract):

- 250 after DATA -> "sent" (detail: the relay's reply, usually with its queue id);
- RCPT or DATA refused, 5xx -> "failed" for that subscriber only; 4xx -> "retry";
- MAIL FROM refused, 5xx -> DeliveryRefused (the sender is refused: same for every message);
  4xx -> DeliveryTransient;
- 421 or a dropped connection -> reconnect and resend that message, once; except when the
  connection drops (or times out) after the final dot of DATA, before the reply: the relay may
  have queued it, so it is "unknown" (never resent blindly) and the next message reconnects;
- login refused -> DeliveryAuthError; 4xx on AUTH, no connection, timeout -> DeliveryTransient;
- an address with a non-ASCII local part goes with MAIL FROM's SMTPUTF8 parameter (RFC 6531)
  and UTF-8 headers when the relay's EHLO offers SMTPUTF8; otherwise that recipient alone is
  "failed" with the reason, before anything of it is sent. A non-ASCII domain travels as IDNA.

Batch-wide errors are raised only while nothing in the batch was sent: raising would throw away
the outcomes of messages already accepted, and the loop would send them twice. Once something
was sent, the rest of the batch comes back as "retry" with the reason, and the next batch meets
the same error before sending anything, and raises it.

The password comes from the config (DIGEST_SMTP_PASSWORD); it is never logged and is scrubbed
from anything a server said before that goes into an error.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from functools import partial

from digest.config import SmtpConfig
from digest.delivery.base import BackendInfo, Outcome, Recipient, SendJob, Status
from digest.delivery.mime_template import MessageMaker
from digest.errors import DeliveryAuthError, DeliveryError, DeliveryRefused, DeliveryTransient
from digest.headers import envelope_address, plain_address

log = logging.getLogger(__name__)
# What bad subscriber data can raise while one message is built (a value missing, a header that
# would not parse): that subscriber fails, the batch goes on and keeps its outcomes.
_BAD_DATA = (KeyError, ValueError, UnicodeError)


class _Lost(Exception):
    """The connection is gone (dropped, reset, timed out, or the server said 421)."""


class SmtpBackend:
    # Batches only set how often the loop records progress: every message is its own
    # transaction on the one connection. 100 messages is a fraction of a second on a relay.
    max_batch = 100

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None):
        if config.security not in ("starttls", "tls", "none"):
            raise ValueError(f"unknown SMTP security {config.security!r}")
        self.config = config
        self._ssl_context = ssl_context
        self.where = f"{config.host}:{config.port}"
        user = f", as {config.username}" if config.username else ""
        self.info = BackendInfo(
            name="smtp", destination=f"smtp://{self.where} ({config.security}{user})"
        )
        self.connections_opened = 0
        self._conn: smtplib.SMTP | None = None
        self._messages = MessageMaker()

    # --- the Backend protocol ----------------------------------------------------------------

    def send_batch(self, job: SendJob, batch: Sequence[Recipient]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        sent = 0
        ahead: dict[int, bytes] = {}
        if not job.from_email.isascii() or not plain_address(job.from_email):
            # MAIL FROM is written raw (pipelined): a CR/LF here would be an SMTP command.
            raise DeliveryRefused(
                f"the sender address {job.from_email!r} cannot go in an SMTP "
                "envelope: change sender.email",
                backend="smtp",
            )

        def build_next(i: int) -> None:
            # Called while the server digests message i: message i+1 is built meanwhile, so
            # the relay's time and ours overlap instead of adding up. A failure here is left
            # for the loop to meet and report.
            if i + 1 < len(batch) and i + 1 not in ahead:
                try:
                    ahead[i + 1] = self.message_bytes(job, batch[i + 1])
                except _BAD_DATA:
                    pass

        for i, recipient in enumerate(batch):
            sub = recipient.subscriber
            try:
                rcpt = envelope_address(sub.email)
            except ValueError as exc:
                outcomes.append(Outcome(sub.id, "failed", str(exc)))
                continue
            try:
                raw = ahead.pop(i, None) or self.message_bytes(job, recipient)
            except _BAD_DATA as exc:  # this subscriber's data; the others are not affected
                outcomes.append(Outcome(sub.id, "failed", f"could not build the message: {exc!r}"))
                continue
            try:
                status, detail = self._send(job.from_email, rcpt, raw, partial(build_next, i))
            except DeliveryError as exc:
                if not sent:
                    raise
                log.warning("SMTP batch cut short after %d sent: %s", sent, exc)
                outcomes += [
                    Outcome(r.subscriber.id, "retry", f"not sent: {exc}") for r in batch[i:]
                ]
                return outcomes
            sent += status in ("sent", "unknown")  # both were handed over: never raise now
            outcomes.append(Outcome(sub.id, status, detail))
        return outcomes

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def __enter__(self) -> SmtpBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- one message ---------------------------------------------------------------------------

    def message_bytes(self, job: SendJob, recipient: Recipient) -> bytes:
        """The recipient's RFC 5322 message: personalized bodies, build_message's headers."""
        return self._messages.message_bytes(job, recipient)

    def _send(
        self, sender: str, to: str, raw: bytes, meanwhile: Callable[[], None]
    ) -> tuple[Status, str]:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return self._transact(conn, sender, to, raw, meanwhile)
            except (_Lost, OSError) as exc:  # smtplib's errors are OSErrors too; _transact
                self._discard()  # lets only disconnections and socket errors out
                if attempt == 2:
                    raise DeliveryTransient(
                        f"the connection to the SMTP server at {self.where} dropped again "
                        f"right after reconnecting: {self._clean(exc)}",
                        backend="smtp",
                    ) from None
                log.info(
                    "SMTP connection to %s lost (%s); reconnecting", self.where, self._clean(exc)
                )
        raise AssertionError("unreachable")

    def _transact(
        self, conn: smtplib.SMTP, sender: str, to: str, raw: bytes, meanwhile: Callable[[], None]
    ) -> tuple[Status, str]:
        # Neither address holds a space, a bracket or a control character (checked before);
        # the recipient's is ASCII unless its local part is not (then it needs SMTPUTF8).
        utf8 = not to.isascii()
        if utf8 and not conn.has_extn("smtputf8"):
            # Nothing was sent for it: the connection goes on with the next recipient.
            return "failed", (
                f"the SMTP server at {self.where} does not offer SMTPUTF8, which an address "
                "with a non-ASCII local part needs"
            )
        mail = f"MAIL FROM:<{sender}>"
        if utf8:
            mail += " SMTPUTF8"  # RFC 6531: UTF-8 in this envelope and this message's headers
            conn.command_encoding = "utf-8"  # what smtplib's own mail() does for SMTPUTF8
        if conn.has_extn("size"):
            mail += f" SIZE={len(raw)}"
        if not raw.isascii() and conn.has_extn("8bitmime"):
            mail += " BODY=8BITMIME"  # an 8bit part (short non-ASCII lines) needs it
        commands = (mail, f"RCPT TO:<{to}>", "DATA")
        if conn.has_extn("pipelining"):
            # RFC 2920: the three commands in one write, then their three replies: two round
            # trips per message instead of four, and the next message is built meanwhile.
            conn.send("".join(c + "\r\n" for c in commands).encode("utf-8"))
            meanwhile()
            replies = [conn.getreply() for _ in commands]
        else:
            replies = []
            for command, ok in zip(commands, (250, 250, 354), strict=True):
                replies.append(conn.docmd(command))
                if replies[-1][0] != ok and not (ok == 250 and replies[-1][0] == 251):
                    break
        code, reply = replies[0]
        if code != 250:
            self._check_421(code, reply)
            self._rset(conn)
            text = f"the SMTP server at {self.where} refused the sender {sender}: {code} {self._clean(reply)}"
            kind = DeliveryRefused if code >= 500 else DeliveryTransient
            raise kind(text, backend="smtp", status=code, detail=self._clean(reply))
        code, reply = replies[1]
        if code not in (250, 251):
            if len(replies) == 3 and replies[2][0] == 354:
                self._discard()  # DATA let through without a recipient: abandon that session
                return ("failed" if code >= 500 else "retry"), f"{code} {self._clean(reply)}"
            return self._refused(conn, code, reply)
        code, reply = replies[2]
        if code == 354:
            # Dot-stuffing (RFC 5321 4.5.2): a line starting with "." gets another. smtplib's
            # data() does it with a regex, 4x slower than replace on a 30 KB message.
            raw = raw.replace(b"\n.", b"\n..")
            if raw.startswith(b"."):
                raw = b"." + raw
            conn.send(raw + (b".\r\n" if raw.endswith(b"\r\n") else b"\r\n.\r\n"))
            meanwhile()  # without PIPELINING: while the server digests the message
            try:
                code, reply = conn.getreply()
            except OSError as exc:  # SMTPServerDisconnected, a timeout: the answer is lost
                self._discard()
                return "unknown", (
                    f"the connection to {self.where} dropped after the message "
                    f"was sent, before the reply ({self._clean(exc)}): the "
                    "relay may have queued it"
                )
        if code != 250:
            return self._refused(conn, code, reply)
        return "sent", f"{code} {self._clean(reply)}"

    def _refused(self, conn: smtplib.SMTP, code: int, reply: bytes) -> tuple[Status, str]:
        """This recipient or this message was refused; the connection stays usable."""
        self._check_421(code, reply)
        self._rset(conn)
        return ("failed" if 500 <= code < 600 else "retry"), f"{code} {self._clean(reply)}"

    def _check_421(self, code: int, reply: bytes) -> None:
        if code == 421:  # "service closing transmission channel": the server hangs up
            raise _Lost(f"421 {self._clean(reply)}")

    def _rset(self, conn: smtplib.SMTP) -> None:
        # After a refused MAIL, RCPT or DATA the transaction may be half open on the server:
        # RSET clears it so the next message starts clean on the same connection.
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()  # the next message reconnects

    # --- the connection ----------------------------------------------------------------------

    @property
    def ssl_context(self) -> ssl.SSLContext:
        # Made on first use: loading the system's trust store takes tens of milliseconds,
        # wasted with security = "none".
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._open()
            self.connections_opened += 1
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _open(self) -> smtplib.SMTP:
        c = self.config
        if c.username and c.security == "none" and not _loopback(c.host):
            raise DeliveryRefused(
                f"refusing to send the SMTP password for {c.username} in clear to {self.where}: "
                "set smtp.security to 'starttls' or 'tls'",
                backend="smtp",
            )
        conn: smtplib.SMTP | None = None
        try:
            if c.security == "tls":
                conn = smtplib.SMTP_SSL(
                    c.host,
                    c.port,
                    local_hostname=c.local_hostname,
                    timeout=c.timeout,
                    context=self.ssl_context,
                )
            else:
                conn = smtplib.SMTP(
                    c.host, c.port, local_hostname=c.local_hostname, timeout=c.timeout
                )
            # Nagle's algorithm holds the tail of a message (the last TLS record, or the end of
            # DATA) until the server ACKs the rest, and servers delay that ACK up to 40 ms
            # because nothing is due yet: one stall per message. Every write here is whole.
            if conn.sock is not None:  # connected: the constructor was given a host
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if c.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise DeliveryRefused(
                        f"the SMTP server at {self.where} does not offer STARTTLS and "
                        "smtp.security is 'starttls': refusing to send credentials or mail in "
                        "clear",
                        backend="smtp",
                    )
                conn.starttls(context=self.ssl_context)
                conn.ehlo()  # the capabilities may differ once encrypted (AUTH often appears)
            if c.username:
                if not conn.has_extn("auth"):
                    raise DeliveryAuthError(
                        f"the SMTP server at {self.where} does not offer AUTH on this "
                        f"connection, so user {c.username} cannot log in",
                        backend="smtp",
                    )
                self._login(conn)
            log.info("SMTP connection to %s open", self.where)
            return conn
        except Exception as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, DeliveryError):
                raise
            # No chaining: a cause could carry the credentials (UnicodeEncodeError.object).
            raise self._open_error(exc) from None

    def _login(self, conn: smtplib.SMTP) -> None:
        # One mechanism, one attempt: smtplib's login() tries every mechanism in turn, so a
        # wrong password would count as two or three failures against a relay's lockout.
        offered = conn.esmtp_features.get("auth", "").upper().split()
        mechanism = next((m for m in ("PLAIN", "LOGIN", "CRAM-MD5") if m in offered), None)
        if mechanism is None:
            raise DeliveryAuthError(
                f"the SMTP server at {self.where} offers no login mechanism this client speaks "
                f"(PLAIN, LOGIN, CRAM-MD5): {' '.join(offered)}",
                backend="smtp",
            )
        conn.user, conn.password = self.config.username or "", self.config.password or ""
        try:
            conn.auth(mechanism, getattr(conn, "auth_" + mechanism.lower().replace("-", "_")))
        except UnicodeError:
            raise DeliveryAuthError(
                f"the SMTP user name or password for {self.config.username} is not ASCII, "
                "which SMTP AUTH cannot carry",
                backend="smtp",
            ) from None

    def _open_error(self, exc: Exception) -> DeliveryError:
        where, user = self.where, self.config.username
        if isinstance(exc, smtplib.SMTPAuthenticationError) and exc.smtp_code >= 500:
            text = f"{exc.smtp_code} {self._clean(exc.smtp_error)}"
            return DeliveryAuthError(
                f"the SMTP server at {where} refused the login for {user}: {text}",
                backend="smtp",
                status=exc.smtp_code,
                detail=text,
            )
        if isinstance(exc, smtplib.SMTPResponseException):  # greeting, EHLO, STARTTLS, AUTH 4xx
            text = f"{exc.smtp_code} {self._clean(exc.smtp_error)}"
            kind = DeliveryTransient if exc.smtp_code < 500 else DeliveryRefused
            return kind(
                f"the SMTP server at {where} refused the connection: {text}",
                backend="smtp",
                status=exc.smtp_code,
                detail=text,
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryRefused(
                f"the TLS certificate of the SMTP server at {where} is not "
                f"trusted: {exc.verify_message}",
                backend="smtp",
            )
        if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
            return DeliveryRefused(
                f"TLS with the SMTP server at {where} failed ({exc.reason}); "
                f"is smtp.security ({self.config.security}) right for port "
                f"{self.config.port}?",
                backend="smtp",
            )
        # Refused, reset, timed out, unknown host, or dropped during the greeting.
        return DeliveryTransient(
            f"could not connect to the SMTP server at {where}: "
            f"{self._clean(exc) or type(exc).__name__}",
            backend="smtp",
        )

    def _clean(self, value) -> str:
        """A server's words as one line of text, without the password should it echo it."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        text = " ".join(text.split())
        password = self.config.password
        return text.replace(password, "***") if password else text


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
