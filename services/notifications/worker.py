"""Notifications worker: outbox relay, the consumer, one sender loop per producer channel and one
for webhooks."""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

from shared.worker import bus_loops, run_forever

from . import domain
from . import operations as ops
from .channels import WebhookChannel, producer_channels
from .consumers import handlers

log = logging.getLogger("ocop.notifications.sender")


class ChannelSender:
    """Sends one channel's due deliveries, one per transaction (a crash repeats at most one
    message), no faster than the channel's rate limit."""

    def __init__(self, runtime, channel: str, poll_interval: float = 0.2, limiter: domain.RateLimit | None = None):
        self.rt = runtime
        self.channel = channel
        self.adapters = producer_channels(runtime.settings)
        self.adapter = self.adapters[channel]
        self.poll_interval = poll_interval
        self.limiter = limiter or domain.RateLimit(runtime.settings.channel_rates.get(channel, 0))
        self.emit = ops.FanOutEmitter(runtime.emit)

    def run_once(self) -> int:
        """Send at most one due delivery; returns how many were attempted (0: none due, or the
        rate limit says wait)."""
        if not self.limiter.ready():
            return 0
        with self.rt.transaction() as session:
            due = ops.due_deliveries(session, self.channel, limit=1)
            for delivery in due:
                self.limiter.take()
                ops.send_delivery(session, self.emit, delivery, self.adapter, self.adapters, self.rt.settings)
            return len(due)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:  # database down etc.: keep trying
                log.exception("sender iteration failed", extra={"channel": self.channel})
            stop.wait(max(self.poll_interval if self.limiter.ready() else self.limiter.wait_seconds(), 0.01))


class WebhookSender(ChannelSender):
    """Sends due webhook deliveries, one per transaction, within the webhook rate limit."""

    def __init__(self, runtime, poll_interval: float = 0.2, limiter: domain.RateLimit | None = None):
        self.rt = runtime
        self.channel = "webhook"
        self.adapter = WebhookChannel(runtime.settings)
        self.poll_interval = poll_interval
        self.limiter = limiter or domain.RateLimit(runtime.settings.channel_rates.get("webhook", 0))

    def run_once(self) -> int:
        if not self.limiter.ready():
            return 0
        with self.rt.transaction() as session:
            due = ops.due_webhook_deliveries(session, limit=1)
            for delivery in due:
                self.limiter.take()
                ops.send_webhook(session, delivery, self.adapter, self.rt.settings)
            return len(due)


class Reminders:
    """Queues the reminders due before invitations' deadlines (operations.queue_reminders), every
    ``interval`` seconds (``OCOP_REMINDER_INTERVAL_SECONDS``, 60). Any number of workers may run it:
    each reminder is queued once."""

    def __init__(self, runtime, interval: float | None = None):
        self.rt = runtime
        self.interval = interval if interval is not None else float(os.environ.get("OCOP_REMINDER_INTERVAL_SECONDS",
                                                                                   "60"))
        self.adapters = producer_channels(runtime.settings)
        self.emit = ops.FanOutEmitter(runtime.emit)

    def run_once(self, now: datetime | None = None) -> int:
        with self.rt.transaction() as session:
            return ops.queue_reminders(session, self.emit, self.rt.settings, self.adapters, now)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                queued = self.run_once()
                if queued:
                    log.info("reminders queued", extra={"queued": queued})
            except Exception:  # database down: try again next round
                log.exception("reminder sweep failed")
            stop.wait(self.interval)


def senders(runtime) -> list[ChannelSender]:
    return [ChannelSender(runtime, channel) for channel in domain.PRODUCER_CHANNELS
            if producer_channels(runtime.settings)[channel].configured] + [WebhookSender(runtime)]


def loops(runtime):
    return (bus_loops(runtime, handlers(runtime)) + [(f"{s.channel}-sender", s.run_forever) for s in senders(runtime)]
            + [("reminders", Reminders(runtime).run_forever)])


def main():
    from shared.web import runtime_of

    from .app import create_app

    run_forever(loops(runtime_of(create_app(migrate=True))))


if __name__ == "__main__":
    main()
