"""How PostgreSQL is told to plan the statements that read one edition's rows of the ledger.

The ledger holds every edition's rows, and the planner's statistics know the table, not one
edition: with several editions in it, a batch of 1,000 rows was hash-joined against full scans
of subscribers and memberships (23 ms a batch against 3 ms; 80 ms once a later day's ledger held
several editions), and an edition's counts became a parallel scan of the whole table (60 ms on
the sixth day and growing, 21 ms through the edition's index). So these statements use index
lookups, whatever the statistics say, for their own transaction only (SET LOCAL): nothing
else on a pooled connection plans so. SQLite's planner picks the index already.
"""

from __future__ import annotations

from sqlalchemy import text

_BY_INDEX = text(  # one statement, one round trip (set_config(..., true) is SET LOCAL)
    "SELECT set_config('enable_hashjoin', 'off', true), "
    "set_config('enable_mergejoin', 'off', true), "
    "set_config('enable_seqscan', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)


def by_index(conn) -> None:
    """For the rest of ``conn``'s transaction, on PostgreSQL: index lookups and scans, no
    hash or merge join, no sequential or parallel scan. Nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(_BY_INDEX)
