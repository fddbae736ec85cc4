"""What is left of an address erased on request: a hash, and the checks that read it.

The hash is a plain SHA-256 of the address's ``email_key`` under a fixed label, not an HMAC
under the app's secret key: the refusal must outlive any key rotation (a lost key would let
every erased address be imported again), and the CLI's import has no key at hand. A hash of an
address can be confirmed by whoever already knows the address -- that is its whole use here
("is this address one we must never mail?") -- and reveals nothing to anyone who does not.

Every path that adds a subscriber or records an address checks it: the importer (CSV, the
API, the audience page's "add"), the signup form and its confirmation, ``suppressions.record``
(webhooks, unsubscribe). Send-time reads (``suppressions.suppressed_clause``) need no hash:
an erased address has no subscriber row, and none of those paths gives it one again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, func, select

from digest.normalize import email_key
from digest.store import schema as t
from digest.store.db import Database

LABEL = b"digest.erasure:"


def key_hash(key: str) -> str:
    """The stored form of an ``email_key`` (already lower-cased and normalised)."""
    return hashlib.sha256(LABEL + key.encode("utf-8")).hexdigest()


def erased_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` (email_keys) that were erased: one indexed IN (...) per call."""
    by_hash = {key_hash(k): k for k in keys}
    if not by_hash:
        return set()
    e = t.erasures
    found = conn.scalars(select(e.c.key_hash).where(e.c.key_hash.in_(list(by_hash))))
    return {by_hash[h] for h in found}


def is_erased_key(conn: Connection, key: str) -> bool:
    return bool(erased_keys(conn, [key]))


def is_erased(db: Database, email: str) -> bool:
    with db.read() as conn:
        return is_erased_key(conn, email_key(email))


def count_erasures(db: Database) -> int:
    with db.read() as conn:
        return conn.scalar(select(func.count()).select_from(t.erasures)) or 0
