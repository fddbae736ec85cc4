"""edition variants: the edition in a list's other locales

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:50:00.000000

`edition_variants` (edition_id, locale, subject, html, text, tokens_json): one row per locale
other than the list's default one; the editions row keeps the default locale's rendering, so
every edition stored before (and every one-locale edition after) reads as it did.

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edition_variants",
        sa.Column("edition_id", sa.String(length=150), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            ondelete="CASCADE",
            name=op.f("fk_edition_variants_edition_id_editions"),
        ),
        sa.PrimaryKeyConstraint("edition_id", "locale", name=op.f("pk_edition_variants")),
    )


def downgrade() -> None:
    op.drop_table("edition_variants")
