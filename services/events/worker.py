"""Events worker: outbox relay and consumers (registry feed, producers' answers)."""

from __future__ import annotations

from shared.worker import bus_loops, run_forever

from .consumers import handlers


def loops(runtime):
    return bus_loops(runtime, handlers(runtime.emit))


def main():
    from shared.web import runtime_of

    from .app import create_app

    run_forever(loops(runtime_of(create_app(migrate=True))))


if __name__ == "__main__":
    main()
