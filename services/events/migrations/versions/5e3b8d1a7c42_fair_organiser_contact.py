"""fair organiser contact: the person, phone and email producers may ask about a fair (printed in every letter about it).

Revision ID: 5e3b8d1a7c42
Revises: 9a4d7c2e6b18
Create Date: 2026-12-10 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "5e3b8d1a7c42"
down_revision = "9a4d7c2e6b18"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organiser_contact", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("organiser_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("organiser_email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.drop_column("organiser_email")
        batch_op.drop_column("organiser_phone")
        batch_op.drop_column("organiser_contact")
