"""send control, API tokens, the unapproved-send rule

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:40:00.000000

`send_actions`: who started, paused, resumed, cancelled, retried or resent an edition, when
(the audit the web app and the CLI both write). `api_tokens`: the JSON API's bearer tokens,
only their SHA-256 kept. `editions.pause_requested_at` / `pause_requested_by`: a pause asked
for while a sender runs (it stops after the batch in flight). `schedules.if_unapproved` and
`unapproved_wait`: what the send time does with a draft nobody approved (existing schedules get
'skip', today's behaviour).

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.String(length=150), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_actions")),
    )
    op.create_index(
        "ix_send_actions_edition_id", "send_actions", ["edition_id", "id"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("scope IN ('read', 'write')", name=op.f("ck_api_tokens_scope")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pause_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("pause_requested_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("if_unapproved", sa.String(length=10), nullable=False, server_default="skip")
        )
        batch_op.add_column(sa.Column("unapproved_wait", sa.Integer(), nullable=True))
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        # The default was for the rows that existed; the code always names the value.
        batch_op.alter_column("if_unapproved", server_default=None)
        batch_op.create_check_constraint(
            op.f("ck_schedules_if_unapproved"), "if_unapproved IN ('skip', 'send', 'wait')"
        )


def downgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_schedules_if_unapproved"), type_="check")
        batch_op.drop_column("unapproved_wait")
        batch_op.drop_column("if_unapproved")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("pause_requested_by")
        batch_op.drop_column("pause_requested_at")
    op.drop_table("api_tokens")
    op.drop_index("ix_send_actions_edition_id", table_name="send_actions")
    op.drop_table("send_actions")
