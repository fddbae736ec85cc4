"""The SQL-backed feed cache: validators (ETag, Last-Modified) and last body per URL.

Implements ``digest.sources.fetch.FeedCache`` by duck typing, with ``digest.models.CachedFeed``
as the entry, so ``digest.store`` never imports the fetcher (httpx).
"""

from __future__ import annotations

from sqlalchemy import select

from digest.models import CachedFeed
from digest.store import schema as t
from digest.store.db import Database
from digest.store.upsert import upsert


class SqlFeedCache:
    """One row per URL in ``feed_cache``; safe to share between threads (as is ``db``)."""

    def __init__(self, db: Database):
        self.db = db

    def get(self, url: str):
        """The stored entry for ``url`` as a ``CachedFeed``, or None."""

        c = t.feed_cache.c
        with self.db.read() as conn:
            row = conn.execute(
                select(c.etag, c.last_modified, c.body, c.content_type).where(c.url == url)
            ).first()
        if row is None:
            return None
        return CachedFeed(
            etag=row.etag,
            last_modified=row.last_modified,
            body=bytes(row.body),
            content_type=row.content_type,
        )

    def put(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
        content_type: str | None,
    ) -> None:
        """Store (or replace) the entry for ``url``; ``fetched_at`` records when."""
        # The server chose these: over a column's length PostgreSQL would refuse the insert.
        # A cut validator would never match, so an oversized one is not kept at all.
        c = t.feed_cache.c
        if len(url) > t.max_length(c.url):
            return  # not cached: the next run fetches it in full
        etag = etag if etag is None or len(etag) <= t.max_length(c.etag) else None
        if last_modified is not None and len(last_modified) > t.max_length(c.last_modified):
            last_modified = None
        content_type = content_type and content_type[: t.max_length(c.content_type)]
        with self.db.write() as conn:
            upsert(
                conn,
                t.feed_cache,
                {
                    "url": url,
                    "etag": etag,
                    "last_modified": last_modified,
                    "body": bytes(body),
                    "content_type": content_type,
                    "fetched_at": t.utcnow(),
                },
            )

    def delete(self, url: str) -> bool:
        """Forget ``url`` (e.g. after a source is removed from the config)."""
        with self.db.write() as conn:
            return conn.execute(t.feed_cache.delete().where(t.feed_cache.c.url == url)).rowcount > 0
