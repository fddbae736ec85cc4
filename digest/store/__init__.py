"""The only SQLAlchemy user: subscribers, lists, suppressions and feed state.

Modules, one job each: ``schema`` (tables), ``db`` (open_database, Database), ``csvio``
(subscriber CSV in and out, no database), ``subscribers`` (lists, import, streaming,
unsubscribe), ``suppressions`` (global opt-outs), ``feeds`` (SqlFeedCache), ``upsert``
(portable insert-or-update), ``revision`` (the schema's Alembic revision: check, upgrade),
``older`` (databases from before the first revision), ``backup`` (SQLite online backup),
``copy`` (every table to another database), ``migrations/`` (the Alembic scripts).
"""
