"""The JSON API's bearer tokens: made with 32 random bytes and shown once; only the SHA-256 of
the token is stored, and a presented token is looked up by its hash and compared in constant
time. Revoking keeps the row (who had access, until when)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from digest.errors import DigestError
from digest.store import schema as t
from digest.store.db import Database
from digest.store.schema import utcnow

PREFIX = "dgt_"  # recognisable in a leaked config or a secret scanner's findings
USE_NOTED_EVERY = timedelta(minutes=1)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class TokenError(DigestError):
    """A token name or scope that cannot be used, or a token that does not exist."""


@dataclass(frozen=True)
class ApiToken:
    name: str
    scope: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(db: Database, name: str, scope: str, *, by: str) -> str:
    """A new token (returned once, never stored) named ``name`` with ``scope`` read|write."""
    if not NAME.match(name or ""):
        raise TokenError(
            "a token name is 1-100 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    if scope not in t.API_SCOPES:
        raise TokenError(f"the scope must be read or write, not {scope!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    a = t.api_tokens
    with db.write() as conn:
        if conn.scalar(select(a.c.name).where(a.c.name == name)) is not None:
            raise TokenError(
                f"there is a token named {name!r} already (revoked ones keep their name)"
            )
        conn.execute(
            insert(a).values(
                name=name,
                scope=scope,
                token_hash=token_hash(token),
                created_by=by[:200],
                created_at=utcnow(),
            )
        )
    return token


def revoke_token(db: Database, name: str) -> bool:
    """Revoke ``name``; False if it was revoked already."""
    a = t.api_tokens
    with db.write() as conn:
        row = conn.execute(select(a.c.revoked_at).where(a.c.name == name)).first()
        if row is None:
            raise TokenError(f"there is no API token named {name!r} ('digest api-token list')")
        if row.revoked_at is not None:
            return False
        conn.execute(update(a).where(a.c.name == name).values(revoked_at=utcnow()))
    return True


def list_tokens(db: Database) -> list[ApiToken]:
    a = t.api_tokens
    cols = [a.c[f] for f in ApiToken.__dataclass_fields__]
    with db.read() as conn:
        return [ApiToken(**r._mapping) for r in conn.execute(select(*cols).order_by(a.c.name))]


def check_token(db: Database, presented: str) -> ApiToken | None:
    """The live token ``presented`` is, or None (unknown, revoked). Its last use is noted."""
    if not presented.startswith(PREFIX) or len(presented) > 200:
        return None
    wanted = token_hash(presented)
    a = t.api_tokens
    with db.read() as conn:
        row = conn.execute(select(a).where(a.c.token_hash == wanted)).first()
    # The lookup is by hash (what an index can do); the compare makes its outcome independent
    # of timing all the same.
    if row is None or not hmac.compare_digest(row.token_hash, wanted) or row.revoked_at:
        return None
    now = utcnow()
    # Noted at most once a minute: a dashboard polling progress every second would otherwise
    # write a row per request.
    if row.last_used_at is None or now - row.last_used_at > USE_NOTED_EVERY:
        with db.write() as conn:
            conn.execute(update(a).where(a.c.name == row.name).values(last_used_at=now))
    m = row._mapping
    return ApiToken(**{f: m[f] for f in ApiToken.__dataclass_fields__})
