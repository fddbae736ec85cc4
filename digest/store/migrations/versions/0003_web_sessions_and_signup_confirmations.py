"""web sessions and signup confirmations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:14:33.194758

Server-side editor sessions (logout revokes a session: digest/store/web_sessions.py) and one
row per address a signup confirmation went to in the last hour (an HMAC of the address, never
the address: digest/store/signups.py). New tables only: nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_confirmations",
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address_key", name=op.f("pk_signup_confirmations")),
    )
    with op.batch_alter_table("signup_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signup_confirmations_sent_at"), ["sent_at"], unique=False
        )

    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("editor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("signup_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signup_confirmations_sent_at"))

    op.drop_table("signup_confirmations")
