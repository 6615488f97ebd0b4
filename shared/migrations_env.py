"""The body of every service's alembic env.py (each passes its own metadata and name)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool


def run(metadata, service: str) -> None:
    config = context.config
    opts = {
        "target_metadata": metadata,
        "version_table": f"alembic_version_{service}",
        "render_as_batch": True,
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()
