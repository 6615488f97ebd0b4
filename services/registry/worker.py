"""Registry worker: outbox relay, command consumer, daily certificate sweep (expired; expiring in 30 days)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shared.instants import vietnam_today
from shared.worker import bus_loops, every
from shared.worker import main as worker_main

from . import operations as ops
from .consumers import handlers

log = logging.getLogger("ocop.registry.sweep")
SWEEP_INTERVAL = 3600.0  # hourly: idempotent, so running more often than daily costs nothing


def run_sweep(runtime) -> dict:
    with runtime.transaction() as session:
        return ops.sweep(session, runtime.emit, vietnam_today(), datetime.now(UTC))


def sweep_loop(runtime):
    return every(SWEEP_INTERVAL, lambda: run_sweep(runtime), log, "certificate sweep", "certificate sweep failed")


def loops(runtime):
    return bus_loops(runtime, handlers(runtime)) + [("registry-sweep", sweep_loop(runtime))]


def main():
    from .app import create_app

    worker_main(create_app, loops)


if __name__ == "__main__":
    main()
