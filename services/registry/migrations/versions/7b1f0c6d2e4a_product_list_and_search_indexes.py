"""product list and search indexes

Trigram indexes (PostgreSQL's pg_trgm extension) on the folded names of products and producers,
so that a search (``name_folded LIKE '%keo dua%'``) reads the matching rows instead of every row;
partial indexes on the current certifications (one per product at most) for the join to a
product's current certificate, the stars and expiry filters and the sorts by stars and validity;
products by creation date for the newest-first sort; and covering indexes for the producer
filters (province, region and kind) and the product group. See services/registry/queries.py.

pg_trgm ships with PostgreSQL (the contrib package; the official Docker image has it) and is a
trusted extension since PostgreSQL 13: the owner of the database may create it. On SQLite (the
embedded default) only the plain indexes are made. The indexes are built inside the migration's
transaction, which holds writes to the three tables while they build (about 2 s for 200,000
products here).

Revision ID: 7b1f0c6d2e4a
Revises: 8ecef7a845f3
Create Date: 2026-11-29 09:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "7b1f0c6d2e4a"
down_revision = "8ecef7a845f3"
branch_labels = None
depends_on = None

CURRENT = sa.text("status = 'current'")
TRIGRAM = (("products", "ix_products_name_folded_trgm"), ("producers", "ix_producers_name_folded_trgm"))
# Lists sort by the key and then the product id, ascending: best first (-stars) is the usual stars
# order, soonest first (valid_until) the usual validity order, so these are the orders indexed.
CURRENT_INDEXES = (
    ("ix_certifications_current", [sa.column("product_id")]),
    ("ix_certifications_current_stars", [sa.column("stars").desc(), sa.column("product_id")]),
    ("ix_certifications_current_valid_until", [sa.column("valid_until"), sa.column("product_id")]),
)

# Newest first; and the producer filters answered from indexes alone (the producers of a province,
# or a region and kind, then their products of a group), which counts a province's list about 3
# times faster than through the tables.
PLAIN_INDEXES = (
    ("ix_products_created_at", "products", ["created_at"]),
    ("ix_products_producer_id_group", "products", ["producer_id", "group"]),
    ("ix_producers_province_id", "producers", ["province", "id"]),
    ("ix_producers_region_kind_id", "producers", ["region", "kind", "id"]),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, name in TRIGRAM:
            op.create_index(
                name,
                table,
                ["name_folded"],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={"name_folded": "gin_trgm_ops"},
            )
    for name, columns in CURRENT_INDEXES:
        op.create_index(name, "certifications", columns, unique=False, postgresql_where=CURRENT, sqlite_where=CURRENT)
    for name, table, columns in PLAIN_INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    # The pg_trgm extension stays: other objects in the database may use it.
    for name, table, _columns in reversed(PLAIN_INDEXES):
        op.drop_index(name, table_name=table)
    for name, _columns in reversed(CURRENT_INDEXES):
        op.drop_index(name, table_name="certifications")
    if op.get_bind().dialect.name == "postgresql":
        for table, name in reversed(TRIGRAM):
            op.drop_index(name, table_name=table)
