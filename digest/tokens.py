"""Signed, opaque tokens that let a URL alone identify a subscriber and a list (RFC 8058).

The token carries only ids (no address, no name), signed with HMAC-SHA256 by itsdangerous and
checked in constant time. Tokens never expire: CAN-SPAM wants opt-out to work for at least
30 days after a send, and an old email's link should still unsubscribe years later.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, Signer

from digest.errors import DigestError
from digest.i18n import N_
from digest.private_files import FILE_MODE, make_private_dir

KEY_FILE = ".secret-key"


class BadToken(DigestError):
    """The token was forged, truncated or made with another key."""


@dataclass(frozen=True)
class SecretKey:
    value: str
    generated_at: Path | None = None  # set when the key was made locally rather than configured


def load_secret_key(configured: str | None, state_dir: Path) -> SecretKey:
    """The configured DIGEST_SECRET_KEY, else a local key generated once and kept beside the DB.

    Callers warn when ``generated_at`` is set: links signed with a local key stop working if the
    file is lost or the database moves to another machine without it.
    """
    if configured:
        return SecretKey(configured)
    path = state_dir / KEY_FILE
    if not path.exists():
        make_private_dir(state_dir)
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                os.fchmod(fd, FILE_MODE)  # exactly 0600, whatever the umask
                fh.write(secrets.token_urlsafe(48))
    value = path.read_text().strip()
    if len(value) < 32:
        raise DigestError(f"the secret key in {path} is too short; delete it to make a new one")
    return SecretKey(value, generated_at=path)


class TokenSigner:
    """Signs (subscriber id, list name) pairs. One instance per send: the key is derived once.

    ``make`` runs once per subscriber per send, so it produces exactly what itsdangerous'
    ``Signer.sign`` would (tests check it byte for byte) from a precomputed HMAC state, without
    the library's per-call overhead. ``read`` goes through itsdangerous, whose check is
    constant-time.
    """

    def __init__(self, secret: str, purpose: str = "unsubscribe"):
        # Derive a per-purpose key once; itsdangerous would re-derive it on every call.
        self._secret = secret
        key = hmac.new(secret.encode(), f"digest.{purpose}".encode(), hashlib.sha256).digest()
        self._key = key
        self._signer = Signer(key, key_derivation="none", digest_method=hashlib.sha256)
        # HMAC (RFC 2104) with its two padded-key states hashed once: copying a hashlib state is
        # half the cost of copying an hmac object, and this runs for every subscriber.
        block = key.ljust(hashlib.sha256().block_size, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def make(self, subscriber_id: int, list_name: str) -> str:
        if subscriber_id < 0:
            raise ValueError("ids are positive")
        payload = f"{subscriber_id:x}.{list_name}".encode()
        inner = self._inner.copy()
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return (payload + b"." + urlsafe_b64encode(outer.digest()).rstrip(b"=")).decode()

    def derived(self, purpose: str) -> TokenSigner:
        """A signer of the same secret for another purpose, with a key of its own."""
        return TokenSigner(self._secret, purpose)

    def mac(self, text: str) -> str:
        """A signature of ``text`` (HMAC-SHA256, base64url, 43 characters)."""
        digest = hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

    def check_mac(self, text: str, signature: str) -> bool:
        """Whether ``signature`` is ``mac(text)``, compared in constant time."""
        return hmac.compare_digest(self.mac(text).encode(), signature.encode("utf-8", "replace"))

    def read(self, token: str) -> tuple[int, str]:
        """(subscriber id, list name), or BadToken. The signature check is constant-time."""
        try:
            payload = self._signer.unsign(token).decode("utf-8")
            sid, list_name = payload.split(".", 1)
            return int(sid, 16), list_name
        except (BadSignature, ValueError, UnicodeError):
            raise BadToken(
                N_("This link is not valid (it may have been cut or altered).")
            ) from None
