"""audit_log: who did what through the API or the console (shared/audit.py; GET /audit).

Revision ID: e8b2c4d6f013
Revises: c7e1b5a93f26
Create Date: 2026-12-04 16:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "e8b2c4d6f013"
down_revision = "c7e1b5a93f26"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("at", "actor_id", "action", "subject"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])


def downgrade() -> None:
    op.drop_table("audit_log")
