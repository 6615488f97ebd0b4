"""A service's worker process: its outbox relay, its consumers and any periodic loops.

Run as ``python -m services.<svc>.worker``. SIGTERM (or SIGINT) sets a stop flag: every
loop finishes the message or batch in hand and returns; the process exits cleanly.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable

from .bus.consumer import IdempotentConsumer
from .bus.outbox import Relay
from .bus.publisher import Publisher
from .bus.topology import queue_spec
from .bus.trust import Trust
from .web import ServiceRuntime

log = logging.getLogger("ocop.worker")

Loop = Callable[[threading.Event], None]


def bus_loops(runtime: ServiceRuntime, handler_table: dict[str, dict]) -> list[tuple[str, Loop]]:
    """The relay plus one consumer per handler group (queue) of the service."""
    s = runtime.settings
    relay = Relay(
        runtime.service, runtime.session_factory, runtime.outbox, Publisher(s.broker_url), batch_size=s.relay_batch_size
    )
    loops: list[tuple[str, Loop]] = [(f"{runtime.service}-relay", relay.run_forever)]
    for queue, handlers in handler_table.items():
        consumer = IdempotentConsumer(
            queue_spec(queue),
            runtime.session_factory,
            runtime.inbox,
            handlers,
            s.broker_url,
            max_attempts=s.max_handler_attempts,
            prefetch=s.consumer_prefetch,
            trust=Trust.of(s),
        )
        loops.append((f"consumer-{queue}", consumer.run))
    return loops


def every(
    interval: float,
    run: Callable[[], dict],
    log: logging.Logger,
    said: str,
    failed: str,
    worth_saying: Callable[[dict], bool] = lambda result: any(result.values()),
) -> Loop:
    """A periodic loop: ``run()`` every ``interval`` seconds until stopped; its result logged as ``said``
    when ``worth_saying`` (a sweep that found nothing says nothing); a failure (the database down)
    logged as ``failed`` and tried again next round."""

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = run()
                if worth_saying(result):
                    log.info(said, extra=result)
            except Exception:  # database down: try again next round
                log.exception(failed)
            stop.wait(interval)

    return loop


def main(create_app, loops: Callable[..., list[tuple[str, Loop]]]) -> None:
    """``python -m services.<svc>.worker``: the service's app (migrated), its runtime's loops run until
    SIGTERM."""
    from .web import runtime_of

    runtime = runtime_of(create_app(migrate=True))
    run_forever(loops(runtime), runtime.settings.worker_metrics_port)


def start(loops: list[tuple[str, Loop]], stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for name, loop in loops:
        t = threading.Thread(target=_guarded(name, loop, stop), name=name, daemon=True)
        t.start()
        threads.append(t)
    return threads


def _guarded(name: str, loop: Loop, stop: threading.Event):
    def run():
        while not stop.is_set():
            try:
                loop(stop)
            except Exception:  # a loop must never die silently: log and start it again
                log.exception("loop crashed; restarting", extra={"loop": name})
                stop.wait(1.0)

    return run


def tune_gc() -> None:
    """For a long-running worker: what exists after start-up (modules, schemas, compiled templates)
    is frozen out of the cyclic collector's sight, and the young generation is collected every
    10,000 allocations instead of 700 (a message allocates hundreds of short-lived objects:
    contract checks, rows, template contexts). About 5% less CPU a message in bench/notify.py;
    the objects are freed as before, only less often examined."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def run_forever(loops: list[tuple[str, Loop]], metrics_port: int | None = None) -> None:
    """Run ``loops`` until SIGTERM; with ``metrics_port`` (OCOP_WORKER_METRICS_PORT), serve /metrics there."""
    tune_gc()
    stop = threading.Event()

    def _stop(signum, _frame):
        log.info("stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    threads = start(loops, stop)
    log.info("worker running", extra={"loops": [n for n, _ in loops]})
    stop.wait()
    for t in threads:
        t.join(timeout=30)
    log.info("worker stopped")
