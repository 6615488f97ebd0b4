"""producers and products entered under a pre-2025 province of a merged province that straddles two
regions take that old province's region (reference/provinces.json, issue 11): Long An's records lie
in the Mekong Delta although the new Tây Ninh is in the Southeast. Frozen here as of 2025; replay the
registry's events afterwards (README, "Rebuilding the events read model") so the events service's read model follows.

Revision ID: 2a9e4d7b5c31
Revises: 4c8e2f1a7d93
Create Date: 2026-12-13 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "2a9e4d7b5c31"
down_revision = "4c8e2f1a7d93"
branch_labels = None
depends_on = None

# old province -> (its own region, the region of the merged province it joined)
MOVES = {
    "Vĩnh Phúc": ("red_river_delta", "northern_midlands_mountains"),  # Phú Thọ
    "Bắc Giang": ("northern_midlands_mountains", "red_river_delta"),  # Bắc Ninh
    "Kon Tum": ("central_highlands", "north_central_coast"),  # Quảng Ngãi
    "Bình Định": ("north_central_coast", "central_highlands"),  # Gia Lai
    "Bình Thuận": ("north_central_coast", "central_highlands"),  # Lâm Đồng
    "Phú Yên": ("north_central_coast", "central_highlands"),  # Đắk Lắk
    "Long An": ("mekong_delta", "southeast"),  # Tây Ninh
}


def _move(to_old: bool) -> None:
    producers = sa.table("producers", sa.column("id"), sa.column("province_entered"), sa.column("region"))
    products = sa.table("products", sa.column("producer_id"), sa.column("region"))
    for old, (own, merged) in MOVES.items():
        region = own if to_old else merged
        ids = sa.select(producers.c.id).where(producers.c.province_entered == old)
        op.execute(products.update().where(products.c.producer_id.in_(ids)).values(region=region))
        op.execute(producers.update().where(producers.c.province_entered == old).values(region=region))


def upgrade() -> None:
    _move(to_old=True)


def downgrade() -> None:
    _move(to_old=False)
