"""events: the clicked link and machine opens

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000

`events` gets `url` (the link of a click: clicks per story) and `machine` (an open made by a
machine, not a reader: SendGrid's `sg_machine_open`, or an Apple Mail Privacy Protection
pre-fetch of digest's own pixel), both nullable: the events stored before know neither.

"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("url", sa.String(2048), nullable=True))
    op.add_column("events", sa.Column("machine", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("machine")
        batch.drop_column("url")
