"""send_workers and deliveries.worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:10:00.000000

Several `digest send` workers may share one edition on PostgreSQL (digest/store/workers.py):
each has a lease row in the new `send_workers` table, renewed by a heartbeat thread, and each
ledger row records the worker that claimed it (`deliveries.worker`, nullable: rows written
before this revision belong to no worker, and count as in flight with nobody once no worker is
alive, as the single edition lease had them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_workers",
        sa.Column("edition_id", sa.String(length=150), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("backend", sa.String(length=20), nullable=True),
        sa.Column("lease_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'done', 'paused', 'stopped', 'dead')",
            name=op.f("ck_send_workers_status"),
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_send_workers_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "owner", name=op.f("pk_send_workers")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("worker")
    op.drop_table("send_workers")
