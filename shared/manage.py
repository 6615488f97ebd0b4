"""Per-service management commands: ``python -m services.<svc>.manage migrate|revision MSG``."""

from __future__ import annotations

import sys
from pathlib import Path


def main(service: str, service_dir: Path, argv: list[str]) -> int:
    from alembic import command
    from alembic.config import Config

    from .config import load
    from .db import run_migrations

    settings = load(service)
    if not argv or argv[0] == "migrate":
        run_migrations(service_dir, settings.database_url)
        print(f"{service}: database at head")
        return 0
    if argv[0] == "revision":
        cfg = Config()
        cfg.set_main_option("script_location", str(service_dir / "migrations"))
        cfg.set_main_option("sqlalchemy.url", settings.database_url)
        command.revision(cfg, message=" ".join(argv[1:]) or "change", autogenerate=True)
        return 0
    if argv[0] == "downgrade":
        cfg = Config()
        cfg.set_main_option("script_location", str(service_dir / "migrations"))
        cfg.set_main_option("sqlalchemy.url", settings.database_url)
        command.downgrade(cfg, argv[1] if len(argv) > 1 else "-1")
        return 0
    print(f"usage: python -m services.{service}.manage migrate|revision MESSAGE|downgrade [REV]", file=sys.stderr)
    return 2
