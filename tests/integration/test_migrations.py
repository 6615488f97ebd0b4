"""Each service's migrations build exactly the schema its models declare (an autogenerate after
them would propose nothing), on the mode's database: SQLite by default, PostgreSQL in real mode."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from support import real_mode, reset_postgres

from shared.db import run_migrations

ROOT = Path(__file__).resolve().parents[2]
# Indexes SQLite cannot have as declared: pg_trgm's GIN indexes (PostgreSQL only) and an index on
# an expression ("stars DESC"), which SQLite reflects as a column.
SQLITE_ONLY_DIFFERS = {"ix_producers_name_folded_trgm", "ix_products_name_folded_trgm",
                       "ix_certifications_current_stars"}


@pytest.mark.parametrize("service", ["registry", "events", "notifications"])
def test_migrations_build_what_the_models_declare(service, tmp_path):
    import os

    if real_mode():
        url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], [f"ocop_migrations_{service}"])[
            f"ocop_migrations_{service}"]
    else:
        url = f"sqlite:///{tmp_path / 'schema.sqlite'}"
    run_migrations(ROOT / "services" / service, url)
    models = importlib.import_module(f"services.{service}.models")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "version_table": f"alembic_version_{service}"})
            diff = compare_metadata(context, models.Base.metadata)
    finally:
        engine.dispose()
    if not real_mode():
        diff = [d for d in diff if not (d[0] in ("add_index", "remove_index") and d[1].name in SQLITE_ONLY_DIFFERS)]
    assert diff == []
