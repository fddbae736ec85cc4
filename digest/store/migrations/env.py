"""Alembic's environment: configure the context on the caller's connection and run.

digest.store.revision opens the connection (with SQLite's foreign keys off, inside one
transaction) and passes it in ``config.attributes["connection"]``; nothing here reads a URL.
"""

from alembic import context

from digest.store.schema import UtcDateTime, metadata


def render_item(type_, obj, autogen_context):
    # A migration is frozen: it must not import digest's live types, whose Python side may
    # change. UtcDateTime's DDL is exactly DateTime(timezone=True).
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name, type_, parent_names):
    # The scheduler's APScheduler job store shares the database but is APScheduler's own table
    # (digest.schedule.JOBSTORE_TABLE, rebuilt from `schedules`): not ours to migrate.
    return not (type_ == "table" and name == "digest_apscheduler_jobs")


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: batch mode copies the table into its new shape.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
    include_name=include_name,
)
with context.begin_transaction():  # a no-op inside the caller's transaction
    context.run_migrations()
