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
SQLITE_ONLY_DIFFERS = {
    "ix_producers_name_folded_trgm",
    "ix_products_name_folded_trgm",
    "ix_certifications_current_stars",
}


@pytest.mark.parametrize("service", ["registry", "events", "notifications"])
def test_migrations_build_what_the_models_declare(service, tmp_path):
    import os

    if real_mode():
        url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], [f"ocop_migrations_{service}"])[
            f"ocop_migrations_{service}"
        ]
    else:
        url = f"sqlite:///{tmp_path / 'schema.sqlite'}"
    run_migrations(ROOT / "services" / service, url)
    models = importlib.import_module(f"services.{service}.models")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": f"alembic_version_{service}"}
            )
            diff = compare_metadata(context, models.Base.metadata)
    finally:
        engine.dispose()
    if not real_mode():
        diff = [d for d in diff if not (d[0] in ("add_index", "remove_index") and d[1].name in SQLITE_ONLY_DIFFERS)]
    assert diff == []


def test_the_decisions_migration_backfills_one_decision_per_authority_number_and_date(tmp_path):
    """Certifications recorded before decisions were records of their own: each (authority, number,
    date), compared without diacritics or case, becomes one decision linked to its certifications,
    and each revocation a revoke decision."""
    import os
    from datetime import date

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    if real_mode():
        url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], ["ocop_migrations_backfill"])["ocop_migrations_backfill"]
    else:
        url = f"sqlite:///{tmp_path / 'backfill.sqlite'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / "registry" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "2a9e4d7b5c31")  # the revision before decisions
    engine = create_engine(url)
    certs = [
        ("c1", "p1", "new", 4, "province", "UBND tỉnh Bến Tre", "1358/QĐ-UBND", date(2023, 7, 20), "current"),
        ("c2", "p2", "new", 3, "province", "ubnd tinh ben tre", "1358/qd-ubnd", date(2023, 7, 20), "revoked"),
        ("c3", "p3", "upgrade", 5, "national", "Bộ Nông nghiệp", "88/QĐ-BNN", date(2024, 1, 5), "current"),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO producers (id, code, name, name_folded, kind, province, province_entered, "
                    "region, preferred_language, consent, version, created_at) VALUES ('pr', 'BT-1', "
                    "'HTX', 'htx', 'cooperative', 'Vĩnh Long', 'Bến Tre', 'mekong_delta', 'vi', '{}', 1, "
                    "'2023-01-01')"
                )
            )
            for cid, pid, kind, stars, level, issuer, number, day, status in certs:
                conn.execute(
                    text(
                        'INSERT INTO products (id, producer_id, name, name_folded, "group", '
                        "potential_five_star, province, region, producer_kind, version, created_at) VALUES "
                        "(:p, 'pr', :p, :p, 1, false, 'Vĩnh Long', 'mekong_delta', 'cooperative', 1, "
                        "'2023-01-01')"
                    ),
                    {"p": pid},
                )
                conn.execute(
                    text(
                        "INSERT INTO certifications (id, product_id, kind, criteria_version, score, stars, level, "
                        "issued_by, decision_number, decision_date, valid_until, status, created_at, revoked_reason, "
                        "revocation_decision_number, revocation_decision_date) "
                        "VALUES (:id, :p, :kind, '148/QĐ-TTg', 80, :stars, :level, :issuer, :number, :day, :day, "
                        ":status, '2023-01-01', :why, :rnum, :rday)"
                    ),
                    {
                        "id": cid,
                        "p": pid,
                        "kind": kind,
                        "stars": stars,
                        "level": level,
                        "issuer": issuer,
                        "number": number,
                        "day": day,
                        "status": status,
                        "why": "Ngừng sản xuất" if status == "revoked" else None,
                        "rnum": "9/QĐ-UBND" if status == "revoked" else None,
                        "rday": date(2025, 1, 2) if status == "revoked" else None,
                    },
                )
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            decisions = {r.id: r for r in conn.execute(text("SELECT * FROM decisions"))}
            links = {
                r.id: (r.decision_id, r.revocation_decision_id)
                for r in conn.execute(text("SELECT id, decision_id, revocation_decision_id FROM certifications"))
            }
    finally:
        engine.dispose()
    assert len(decisions) == 3
    assert links["c1"][0] == links["c2"][0]  # one decision, spelled two ways
    bt, national, revoke = decisions[links["c1"][0]], decisions[links["c3"][0]], decisions[links["c2"][1]]
    assert (bt.number, bt.issued_by, bt.level, bt.kind) == ("1358/QĐ-UBND", "UBND tỉnh Bến Tre", "province", "certify")
    assert (national.level, national.kind) == ("national", "upgrade")
    assert (revoke.kind, revoke.number, revoke.reason) == ("revoke", "9/QĐ-UBND", "Ngừng sản xuất")
    assert links["c1"][1] is None and links["c3"][1] is None
