"""subscribers.timezone

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 06:11:14.435829

Each subscriber's IANA time zone (imported from a CSV `timezone` column or Mailchimp's
`TIMEZONE`); NULL means the site's zone. A nullable column: existing rows need no value.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("timezone")
