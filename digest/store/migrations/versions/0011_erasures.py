"""erasure on request

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000

`erasures` (key_hash, source, created_at): the SHA-256 of an erased address's email_key, all
that is kept of a person erased on request. `deliveries.subscriber_id` becomes nullable: an
erased reader's ledger rows stay, unlinked, so the editions' counts stay true. On SQLite the
ledger is rebuilt by a batch migration (its rows kept); on PostgreSQL one ALTER COLUMN.

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_erasures")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Unlinked rows have no reader to point at again: they go (their editions lose those counts).
    op.execute("DELETE FROM deliveries WHERE subscriber_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("erasures")
