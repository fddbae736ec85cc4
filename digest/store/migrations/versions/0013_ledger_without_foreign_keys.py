"""the ledger without foreign keys

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:00:00.000000

`deliveries` loses its foreign keys to `editions` and `subscribers`. Its rows are only made by
one INSERT ... SELECT of the edition's own list members (ledger.populate_rows), editions are
never deleted, and an erasure unlinks a reader's rows before deleting the reader; meanwhile
PostgreSQL checked both keys row by row on every fill: 2.1 s of 2.5 s for 100,000 rows, each
edition (bench/bench_send.py). On SQLite the ledger is rebuilt by a batch migration (its rows
kept); on PostgreSQL two DROP CONSTRAINT.

"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

KEYS = (
    ("fk_deliveries_edition_id_editions", "editions", "edition_id"),
    ("fk_deliveries_subscriber_id_subscribers", "subscribers", "subscriber_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name, _, _ in KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    # Rows whose edition or reader is gone would refuse the keys: there are none by
    # construction, but a hand-edited database is cleaned rather than left unable to go back.
    op.execute("DELETE FROM deliveries WHERE edition_id NOT IN (SELECT id FROM editions)")
    op.execute(
        "UPDATE deliveries SET subscriber_id = NULL WHERE subscriber_id IS NOT NULL "
        "AND subscriber_id NOT IN (SELECT id FROM subscribers)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name, table, column in KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete="CASCADE")
