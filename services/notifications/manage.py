"""Management commands of the notifications service (see shared/manage.py), plus:

- ``remind [--at ISO-DATETIME]``: queue the reminders due before invitations' deadlines, the same
  sweep the worker runs every minute (idempotent: a reminder is queued once); ``--at`` pretends
  it is that moment (to see what a given day would send). The senders then deliver them.
"""

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from shared.manage import main


def remind_command(argv: list[str]) -> int:
    from shared.web import runtime_of

    from .app import create_app
    from .worker import Reminders

    parser = argparse.ArgumentParser(prog="python -m services.notifications.manage remind",
                                     description="Queue the reminders due now (OCOP_REMINDER_DAYS before deadlines).")
    parser.add_argument("--at", type=datetime.fromisoformat, help="pretend it is this moment (ISO 8601, with zone)")
    args = parser.parse_args(argv)
    if args.at is not None and args.at.tzinfo is None:
        parser.error("--at needs a time zone, e.g. 2025-10-28T09:00:00+07:00")
    print(json.dumps({"queued": Reminders(runtime_of(create_app(migrate=True))).run_once(args.at)}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["remind"]:
        sys.exit(remind_command(sys.argv[2:]))
    sys.exit(main("notifications", Path(__file__).parent, sys.argv[1:]))
