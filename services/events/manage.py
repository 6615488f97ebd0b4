"""Management commands of the events service: ``python -m services.events.manage COMMAND``.

The database commands every service has (``migrate``, ``revision``, ``downgrade``: shared/manage.py), plus
``expire`` and ``rebuild-read-model``; ``--help`` on any of them says what it does.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import delete, func, select

from shared.manage import commands, run, runtime

FEED_QUEUE = "events.registry-feed"

cli = commands("events", Path(__file__).parent, help="Management commands of the events service.")


@cli.command()
def expire() -> None:
    """Expire the issued invitations past their deadline (and grace) and promote from the waitlists.

    The same sweep the worker runs every minute; idempotent."""
    from .worker import run_expiry

    click.echo(run_expiry(runtime()))


@cli.command("rebuild-read-model")
def rebuild_read_model() -> None:
    """Empty the read model (not fairs or invitations) and the registry feed's inbox.

    Then `python -m services.registry.manage replay` (run next) fills it again from events; the
    procedure and its order are in the docs ("Rebuilding the events read model")."""
    removed = empty_read_model(runtime())
    click.echo(
        json.dumps({"removed": removed, "next": "python -m services.registry.manage replay"}, ensure_ascii=False)
    )


def empty_read_model(runtime) -> dict:
    """One transaction: every read model row and the registry feed's inbox rows go. Returns what
    was removed. Fairs, invitations and the responses queue's inbox are left alone."""
    from .models import CertifiedProduct, Inbox, ProducerView, ProductView

    removed = {}
    with runtime.transaction() as session:
        for name, model in (
            ("certified_products", CertifiedProduct),
            ("products", ProductView),
            ("producers", ProducerView),
        ):
            removed[name] = session.scalar(select(func.count()).select_from(model))
            session.execute(delete(model))
        removed["inbox_rows"] = session.scalar(
            select(func.count()).select_from(Inbox).where(Inbox.consumer == FEED_QUEUE)
        )
        session.execute(delete(Inbox).where(Inbox.consumer == FEED_QUEUE))
    return removed


if __name__ == "__main__":
    from .app import create_app

    run(cli, create_app)
