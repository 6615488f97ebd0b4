"""Management commands of the notifications service: ``python -m services.notifications.manage COMMAND``.

The database commands every service has (``migrate``, ``revision``, ``downgrade``: shared/manage.py), plus
``remind``; ``--help`` on any of them says what it does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from shared.manage import Moment, commands, print_json, run, runtime

cli = commands("notifications", Path(__file__).parent, help="Management commands of the notifications service.")


@cli.command()
@click.option(
    "--at",
    type=Moment(),
    help="pretend it is this moment (ISO 8601 with its zone, e.g. "
    "2025-10-28T09:00:00+07:00): to see what a given day would send",
)
def remind(at: datetime | None) -> None:
    """Queue the reminders due now (OCOP_REMINDER_DAYS before invitations' deadlines).

    The same sweep the worker runs every minute, idempotent: a reminder is queued once. The senders
    then deliver them."""
    from .worker import Reminders

    print_json({"queued": Reminders(runtime()).run_once(at)})


if __name__ == "__main__":
    from .app import create_app

    run(cli, create_app)
