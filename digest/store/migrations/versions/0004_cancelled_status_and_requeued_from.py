"""cancelled status and deliveries.requeued_from

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:35:00.000000

`digest cancel` stops an edition for good: editions and deliveries may now be 'cancelled' (both
status CHECK constraints are rewritten). `deliveries.requeued_from` records that the operator put
a row back ('failed' by --retry-failed, 'unknown' by --resend-unknown), for `digest status`: a
nullable column, existing rows need no value.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EDITIONS_OLD = "status IN ('ready', 'sending', 'paused', 'sent', 'skipped')"
EDITIONS_NEW = "status IN ('ready', 'sending', 'paused', 'sent', 'skipped', 'cancelled')"
DELIVERIES_OLD = "status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'unknown')"
DELIVERIES_NEW = (
    "status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'unknown', 'cancelled')"
)


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_editions_status"), type_="check")
        batch_op.create_check_constraint("status", EDITIONS_NEW)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requeued_from", sa.String(length=10), nullable=True))
        batch_op.drop_constraint(op.f("ck_deliveries_status"), type_="check")
        batch_op.create_check_constraint("status", DELIVERIES_NEW)


def downgrade() -> None:
    # Cancelled rows and editions have no older name: they become what they were before the
    # cancel could have been recorded (pending rows, a paused edition), so nothing is lost.
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'cancelled'")
    op.execute("UPDATE editions SET status = 'paused' WHERE status = 'cancelled'")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_status"), type_="check")
        batch_op.create_check_constraint("status", DELIVERIES_OLD)
        batch_op.drop_column("requeued_from")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_editions_status"), type_="check")
        batch_op.create_check_constraint("status", EDITIONS_OLD)
