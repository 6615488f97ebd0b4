"""Events worker: outbox relay, consumers (registry feed, producers' answers) and the expiry sweep
(issued invitations past their deadline expire; the waitlist moves up)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from shared import config
from shared.worker import bus_loops, run_forever

from . import operations as ops
from .consumers import handlers

log = logging.getLogger("ocop.events.expiry")
EXPIRY_INTERVAL = 60.0


def grace() -> timedelta:
    """How long after its deadline an invitation waits before it expires: an answer given through the
    signed link just before the deadline may still be on its way through the queue."""
    return timedelta(seconds=float(config.env("OCOP_EXPIRY_GRACE_SECONDS", "600")))


def run_expiry(runtime, now: datetime | None = None) -> dict:
    """Expire overdue invitations, one fair per transaction (each locks its fair). Idempotent."""
    now = now or datetime.now(UTC)
    cutoff = now - grace()
    with runtime.transaction() as session:
        fairs = ops.overdue_fairs(session, cutoff)
    expired = 0
    for fair_id in fairs:
        with runtime.transaction() as session:
            expired += ops.expire_overdue(session, runtime.emit, fair_id, cutoff, now)
    return {"fairs": len(fairs), "expired": expired}


def expiry_loop(runtime):
    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = run_expiry(runtime)
                if result["expired"]:
                    log.info("invitations expired", extra=result)
            except Exception:  # database down: try again next round
                log.exception("expiry sweep failed")
            stop.wait(EXPIRY_INTERVAL)

    return loop


def loops(runtime):
    return bus_loops(runtime, handlers(runtime)) + [("events-expiry", expiry_loop(runtime))]


def main():
    from shared.web import runtime_of

    from .app import create_app

    run_forever(loops(runtime_of(create_app(migrate=True))))


if __name__ == "__main__":
    main()
