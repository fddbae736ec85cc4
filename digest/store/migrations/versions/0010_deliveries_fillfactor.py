"""the ledger's pages half empty on PostgreSQL

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 23:30:00.000000

`deliveries` gets `fillfactor = 45` on PostgreSQL, so the two updates of each row (claimed,
answered) stay on its page as HOT updates (digest/store/schema.py says why). Pages already
written keep their layout until rewritten (`VACUUM FULL deliveries` does it at once, locking
the table); new editions' rows use the new one. Nothing on SQLite.

"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 45)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
