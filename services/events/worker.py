"""Events worker: outbox relay, consumers (registry feed, producers' answers) and the expiry sweep
(issued invitations past their deadline expire; the waitlist moves up)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shared.worker import bus_loops, every
from shared.worker import main as worker_main

from . import invitations, queries
from .consumers import handlers

log = logging.getLogger("ocop.events.expiry")
EXPIRY_INTERVAL = 60.0


def grace(settings) -> timedelta:
    """How long after its deadline an invitation waits before it expires (``OCOP_EXPIRY_GRACE_SECONDS``):
    an answer given through the signed link just before the deadline may still be on its way through
    the queue."""
    return timedelta(seconds=settings.expiry_grace_seconds)


def run_expiry(runtime, now: datetime | None = None) -> dict:
    """Expire overdue invitations, one fair per transaction (each locks its fair). Idempotent."""
    now = now or datetime.now(UTC)
    cutoff = now - grace(runtime.settings)
    with runtime.transaction() as session:
        fairs = queries.overdue_fairs(session, cutoff)
    expired = 0
    for fair_id in fairs:
        with runtime.transaction() as session:
            expired += invitations.expire_overdue(session, runtime.emit, fair_id, cutoff, now)
    return {"fairs": len(fairs), "expired": expired}


def expiry_loop(runtime):
    return every(
        EXPIRY_INTERVAL,
        lambda: run_expiry(runtime),
        log,
        "invitations expired",
        "expiry sweep failed",
        worth_saying=lambda result: result["expired"],
    )


def loops(runtime):
    return bus_loops(runtime, handlers(runtime)) + [("events-expiry", expiry_loop(runtime))]


def main():
    from .app import create_app

    worker_main(create_app, loops)


if __name__ == "__main__":
    main()
