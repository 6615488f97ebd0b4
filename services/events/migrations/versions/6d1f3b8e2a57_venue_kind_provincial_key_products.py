"""venue kind of a fair (a showcase point's place: airport, tourist site, ...) and the read model's
provincial key products (Decision 950/QĐ-BCT).

Revision ID: 6d1f3b8e2a57
Revises: 5e3b8d1a7c42
Create Date: 2026-12-12 10:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "6d1f3b8e2a57"
down_revision = "5e3b8d1a7c42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("venue_kind", sa.String(length=30), nullable=True))
    for table in ("products", "certified_products"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("provincial_key_product", sa.Boolean(), server_default=sa.false(), nullable=False)
            )


def downgrade() -> None:
    for table in ("certified_products", "products"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("provincial_key_product")
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.drop_column("venue_kind")
