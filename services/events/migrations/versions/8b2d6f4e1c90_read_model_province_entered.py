"""read model: the producer's province as entered (a pre-2025 name where it keeps one), carried by the
registry's producer and certification events since issue 11, for the participants' export and the
letters ("Vĩnh Long (Bến Tre cũ)"). Filled by the next events, or at once by a replay (README,
"Rebuilding the events read model").

Revision ID: 8b2d6f4e1c90
Revises: 6d1f3b8e2a57
Create Date: 2026-12-13 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "8b2d6f4e1c90"
down_revision = "6d1f3b8e2a57"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("producers", "certified_products"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("province_entered", sa.String(length=100), nullable=True))


def downgrade() -> None:
    for table in ("producers", "certified_products"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("province_entered")
