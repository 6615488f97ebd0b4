"""Management commands of the events service (see shared/manage.py), plus ``expire``: expire the
issued invitations past their deadline (and grace) and promote from the waitlists, the same sweep
the worker runs every minute (idempotent)."""

import sys
from pathlib import Path

from shared.manage import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["expire"]:
        from shared.web import runtime_of

        from .app import create_app
        from .worker import run_expiry

        print(run_expiry(runtime_of(create_app(migrate=True))))
        sys.exit(0)
    sys.exit(main("events", Path(__file__).parent, sys.argv[1:]))
