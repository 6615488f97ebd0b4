"""webhook subscriptions owned by their creator; delivery log without receivers' answers

Revision ID: ee30290e1057
Revises: 2bd6e3a14132
Create Date: 2026-12-01 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "ee30290e1057"
down_revision = "2bd6e3a14132"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=100), nullable=True))
    # made before owners were kept: nobody's but the admins' ("legacy" is no token's "<role>:<sub>")
    op.execute("UPDATE webhook_subscriptions SET owner = 'legacy'")
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.alter_column("owner", existing_type=sa.String(length=100), nullable=False)
        batch_op.create_index(batch_op.f("ix_webhook_subscriptions_owner"), ["owner"], unique=False)
    # the delivery log kept up to 300 characters of the receiver's answer: keep only our own words
    op.execute(
        "UPDATE webhook_deliveries SET last_error = 'HTTP ' || CAST(response_status AS VARCHAR(10)) "
        "WHERE last_error IS NOT NULL AND response_status IS NOT NULL"
    )
    op.execute(
        "UPDATE webhook_deliveries SET last_error = 'failed (details not kept)' "
        "WHERE last_error IS NOT NULL AND response_status IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_subscriptions_owner"))
        batch_op.drop_column("owner")
