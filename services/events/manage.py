"""Management commands of the events service (see shared/manage.py), plus:

- ``expire``: expire the issued invitations past their deadline (and grace) and promote from the
  waitlists, the same sweep the worker runs every minute (idempotent);
- ``rebuild-read-model``: empty the read model (producers, products, certified products; never
  fairs or invitations) and the registry feed's inbox rows, so that the registry's replay
  (``python -m services.registry.manage replay``) fills it again from events. The procedure and
  its order are in the README ("Rebuilding the events read model").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import delete, func, select

from shared.manage import main

FEED_QUEUE = "events.registry-feed"


def empty_read_model(runtime) -> dict:
    """One transaction: every read model row and the registry feed's inbox rows go. Returns what
    was removed. Fairs, invitations and the responses queue's inbox are left alone."""
    from .models import CertifiedProduct, Inbox, ProducerView, ProductView

    removed = {}
    with runtime.transaction() as session:
        for name, model in (("certified_products", CertifiedProduct), ("products", ProductView),
                            ("producers", ProducerView)):
            removed[name] = session.scalar(select(func.count()).select_from(model))
            session.execute(delete(model))
        removed["inbox_rows"] = session.scalar(select(func.count()).select_from(Inbox)
                                               .where(Inbox.consumer == FEED_QUEUE))
        session.execute(delete(Inbox).where(Inbox.consumer == FEED_QUEUE))
    return removed


def rebuild_command(argv: list[str]) -> int:
    import argparse

    from shared.web import runtime_of

    from .app import create_app

    parser = argparse.ArgumentParser(
        prog="python -m services.events.manage rebuild-read-model",
        description="Empty the read model (not fairs or invitations) and the registry feed's inbox, so that "
                    "`python -m services.registry.manage replay` (run next) fills it again.")
    parser.parse_args(argv)
    removed = empty_read_model(runtime_of(create_app(migrate=True)))
    print(json.dumps({"removed": removed, "next": "python -m services.registry.manage replay"}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["expire"]:
        from shared.web import runtime_of

        from .app import create_app
        from .worker import run_expiry

        print(run_expiry(runtime_of(create_app(migrate=True))))
        sys.exit(0)
    if sys.argv[1:2] == ["rebuild-read-model"]:
        sys.exit(rebuild_command(sys.argv[2:]))
    sys.exit(main("events", Path(__file__).parent, sys.argv[1:]))
