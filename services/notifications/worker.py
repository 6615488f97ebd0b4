"""Notifications worker: outbox relay, the consumer, and the email sender loop."""

from __future__ import annotations

import logging
import threading

from shared.worker import bus_loops, run_forever

from . import operations as ops
from .consumers import handlers

log = logging.getLogger("ocop.notifications.sender")


class EmailSender:
    """Sends queued deliveries one per transaction, so a crash repeats at most one email."""

    def __init__(self, runtime, poll_interval: float = 0.2):
        self.rt = runtime
        self.poll_interval = poll_interval

    def run_once(self) -> int:
        s = self.rt.settings
        with self.rt.transaction() as session:
            due = ops.due_deliveries(session, limit=1)
            for delivery in due:
                ops.send_one(session, self.rt.emit, delivery, s.smtp_host, s.smtp_port, s.mail_from)
            return len(due)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:  # database down etc.: keep trying
                log.exception("sender iteration failed")
            stop.wait(self.poll_interval)


def loops(runtime):
    return bus_loops(runtime, handlers(runtime.settings)) + [("email-sender", EmailSender(runtime).run_forever)]


def main():
    from .app import create_app
    from shared.web import runtime_of

    run_forever(loops(runtime_of(create_app(migrate=True))))


if __name__ == "__main__":
    main()
