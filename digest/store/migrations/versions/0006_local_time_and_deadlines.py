"""local-time schedules and delivery deadlines

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 14:45:00.000000

`schedules.local_time` (each reader at the schedule's time in their own zone) and
`schedules.deadline` (HH:MM); `editions.deadline_at`, `editions.send_rate` (messages a second the
last run measured) and `editions.deadline_missed` (a sentence, once a run finished late). All
nullable but local_time, which existing schedules get as false.

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("local_time", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("deadline", sa.String(length=5), nullable=True))
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        # The default was for the rows that existed; the code always names the value.
        batch_op.alter_column("local_time", server_default=None)
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("deadline_missed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("deadline_missed")
        batch_op.drop_column("send_rate")
        batch_op.drop_column("deadline_at")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_column("deadline")
        batch_op.drop_column("local_time")
