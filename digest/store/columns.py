"""What every table is made of: the metadata (with constraint names Alembic can refer to), a
UTC timestamp type that behaves the same on SQLite and PostgreSQL, and the column sizes the
readers of data check against before a row reaches the database (digest/store/schema.py holds
the tables)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String
from sqlalchemy.types import TypeDecorator

# Named constraints so a future migration tool (Alembic) can refer to them on any backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MEMBERSHIP_STATUSES = ("active", "unsubscribed")
NAME_MAX = 200  # csvio rejects longer names rather than letting the column truncate/refuse them
EMAIL_MAX = 320  # 64 + 1 + 255; email_validator enforces the real limit (254) before we get here
LIST_NAME_MAX = 100
TIMEZONE_MAX = 64  # IANA names are at most ~32 characters; csvio checks them against zoneinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def max_length(column: Column) -> int:
    """The declared length of a ``String(n)`` column: what PostgreSQL refuses to exceed."""
    kind = column.type
    if not isinstance(kind, String) or kind.length is None:
        raise TypeError(f"column {column.name} has no declared length")
    return kind.length


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps the offset (timestamptz); SQLite stores text without one and would hand
    back naive datetimes. Normalising to UTC on the way in and tagging UTC on the way out gives
    callers the same aware value everywhere, and refuses naive input instead of guessing.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not UTC:  # fast path: utcnow() values need no conversion
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value!r}: store timezone-aware values only")
            value = value.astimezone(UTC)
        # SQLite compares the stored text; strip tzinfo so every row has the same format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
