"""Management commands of the registry service (see shared/manage.py), plus ``sweep``: the daily
certificate sweep, the same the worker runs (idempotent)."""

import sys
from pathlib import Path

from shared.manage import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["sweep"]:
        from shared.web import runtime_of

        from .app import create_app
        from .worker import run_sweep

        print(run_sweep(runtime_of(create_app(migrate=True))))
        sys.exit(0)
    sys.exit(main("registry", Path(__file__).parent, sys.argv[1:]))
