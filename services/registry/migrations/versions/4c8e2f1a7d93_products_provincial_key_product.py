"""products: provincial_key_product, a province's designation of a key product (sản phẩm chủ lực cấp tỉnh),
which a showcase point (Decision 950/QĐ-BCT) may admit whatever its stars.

Revision ID: 4c8e2f1a7d93
Revises: 5f2c8e1a9d47
Create Date: 2026-12-12 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "4c8e2f1a7d93"
down_revision = "5f2c8e1a9d47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provincial_key_product", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("provincial_key_product")
