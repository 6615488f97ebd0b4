"""read model: producers' contacts (email, phone) as registry events carry them; fairs: published_at
(a fair cancelled as a draft was never public, so calendar feeds leave it out). Existing producers get
their contacts from the next registry.producer.updated, or at once from `registry.manage replay`.

Revision ID: 7373e9e32741
Revises: 0ffef46ffcf6
Create Date: 2026-11-29 09:49:10.282062
"""

import sqlalchemy as sa
from alembic import op

revision = "7373e9e32741"
down_revision = "0ffef46ffcf6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("producers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("producers", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("email")

    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.drop_column("published_at")
