"""Registry worker: outbox relay, command consumer, daily certificate sweep (expired; expiring in 30 days)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from shared.instants import vietnam_today
from shared.worker import bus_loops, run_forever

from . import operations as ops
from .consumers import handlers

log = logging.getLogger("ocop.registry.sweep")
SWEEP_INTERVAL = 3600.0  # hourly: idempotent, so running more often than daily costs nothing


def run_sweep(runtime) -> dict:
    with runtime.transaction() as session:
        return ops.sweep(session, runtime.emit, vietnam_today(), datetime.now(UTC))


def sweep_loop(runtime):
    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = run_sweep(runtime)
                if any(result.values()):
                    log.info("certificate sweep", extra=result)
            except Exception:  # database down: try again next round
                log.exception("certificate sweep failed")
            stop.wait(SWEEP_INTERVAL)

    return loop


def loops(runtime):
    return bus_loops(runtime, handlers(runtime)) + [("registry-sweep", sweep_loop(runtime))]


def main():
    from shared.web import runtime_of

    from .app import create_app

    run_forever(loops(runtime_of(create_app(migrate=True))))


if __name__ == "__main__":
    main()
