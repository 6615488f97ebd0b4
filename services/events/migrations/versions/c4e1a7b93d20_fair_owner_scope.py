"""fairs.owner_scope: the department or organiser (an account's scope) that owns a fair; a trade
officer sees and changes only its scope's fairs in the console (issue 13). Null for fairs created
before accounts or by an integration without a scope.

Revision ID: c4e1a7b93d20
Revises: 8b2d6f4e1c90
Create Date: 2026-12-04 16:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "c4e1a7b93d20"
down_revision = "8b2d6f4e1c90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_scope", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_fairs_owner_scope"), ["owner_scope"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fairs_owner_scope"))
        batch_op.drop_column("owner_scope")
