"""Notifications worker: outbox relay, the consumer, one sender loop per producer channel and one
for webhooks."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from shared.worker import bus_loops, every
from shared.worker import main as worker_main

from . import domain
from .channels import ChannelError, WebhookChannel, message_id, producer_channels
from .consumers import handlers
from .delivery_queue import SENT_EVENT, Job, Sent, claim, record_outcome, record_sent, renew_claims
from .emitter import FanOutEmitter
from .reminders import queue_reminders, reminder_offsets
from .webhooks import due_webhook_deliveries, send_webhook

log = logging.getLogger("ocop.notifications.sender")


class ChannelSender:
    """Sends one channel's due deliveries: claims a batch (committed), hands each message to the
    provider over one kept-open connection, and commits each outcome as soon as the provider
    answered, so a crash repeats at most the message whose answer was in flight (see
    delivery_queue). No faster than the channel's rate limit (a rate-limited channel claims one
    message at a time).

    ``lookup(channel, delivery_id) -> bool`` asks the provider whether it has a message already
    (the embedded sinks can say); ``sole_sender``: no other process sends from this database (the
    embedded default), so deliveries left "sending" by a crash are in doubt at once at start."""

    def __init__(
        self,
        runtime,
        channel: str,
        poll_interval: float = 0.2,
        limiter: domain.RateLimit | None = None,
        batch: int | None = None,
        lookup=None,
        sole_sender: bool = False,
    ):
        self.rt = runtime
        self.channel = channel
        self.adapters = producer_channels(runtime.settings)
        self.adapter = self.adapters[channel]
        self.poll_interval = poll_interval
        self.limiter = limiter or domain.RateLimit(runtime.settings.channel_rates.get(channel, 0))
        self.emit = FanOutEmitter(runtime.emit)
        self.batch = batch or runtime.settings.send_batch
        # how long a claim holds before another sender may take its deliveries; renewed for the
        # rest of the batch every quarter of it, so it need only outlast one message (SMTP and
        # HTTP timeouts: 10 s an exchange) plus a quarter
        self.lease = runtime.settings.send_lease_seconds
        self.lookup = lookup
        # the only sender process of its database: claims made before it started are orphans
        self.orphaned_before = datetime.now(UTC) + timedelta(seconds=self.lease) if sole_sender else None

    def run_once(self) -> int:
        """Claim and send a batch of due deliveries; returns how many were settled (0: none due, or
        the rate limit says wait)."""
        if not self.limiter.ready():
            return 0
        with self.rt.transaction() as session:
            jobs, settled = claim(
                session,
                self.channel,
                1 if self.limiter.rate > 0 else self.batch,
                self.lease,
                self.adapters,
                orphaned_before=self.orphaned_before,
            )
            if jobs:
                self.emit.snapshot(session)  # the webhook subscriptions, once for the batch
        if not jobs:
            return settled
        renewed = time.monotonic()
        with self.rt.engine.connect() as conn, _outcomes_without_fsync(conn) as autocommit:  # the batch's outcomes
            i = 0
            while i < len(jobs):
                if time.monotonic() - renewed > self.lease / 4:  # the rest of the batch keeps its claim
                    jobs = jobs[:i] + renew_claims(conn, jobs[i:], self.lease)
                    renewed = time.monotonic()
                    if i >= len(jobs):
                        break
                job = jobs[i]
                i += 1
                self.limiter.take()
                outcome = self._attempt(job)
                following = jobs[i] if i < len(jobs) else None
                # one transaction: this outcome, and the next message handed
                if isinstance(outcome, Sent) and not self.emit.follows(SENT_EVENT):
                    if autocommit:  # PostgreSQL: one statement, its own transaction
                        record_sent(conn, self.emit, job, outcome, following)
                        continue
                    with conn.begin():
                        record_sent(conn, self.emit, job, outcome, following)
                else:
                    with self.rt.transaction() as session:
                        record_outcome(session, self.emit, job, outcome, self.rt.settings, following)
        return len(jobs) + settled

    def _attempt(self, job: Job):
        if job.in_doubt and self.lookup is not None and self.lookup(self.channel, job.id):
            return Sent(message_id(job.id) if self.channel == "email" else None, found=True)
        try:
            return Sent(self.adapter.send(job, job.recipient))
        except ChannelError as exc:
            return exc

    def run_forever(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    if self.run_once():
                        continue
                    getattr(self.adapter, "idle", lambda: None)()  # e.g. close an SMTP connection unused for long
                except Exception:  # database down etc.: keep trying
                    log.exception("sender iteration failed", extra={"channel": self.channel})
                stop.wait(max(self.poll_interval if self.limiter.ready() else self.limiter.wait_seconds(), 0.01))
        finally:
            getattr(self.adapter, "close", lambda: None)()


@contextmanager
def _outcomes_without_fsync(conn):
    """On PostgreSQL, the driver's connection in autocommit (each outcome is one statement, so its
    own transaction: no BEGIN and COMMIT round trips), and the outcomes commit without waiting for
    the WAL flush (synchronous_commit off, for this connection while it records a batch): a worker
    killed after a commit loses nothing (the database has it), only a crash of the database itself
    could lose the last fraction of a second of outcomes, whose deliveries are then sent again (at
    least once, as always). The claim before them is committed durably. Yields whether it did.

    PostgreSQL only, so run in CI on PostgreSQL (the real-mode tier, .ci/run) by every sender test,
    e.g. tests/integration/test_notifications_queue.py and
    test_notifications_guarantees.py::test_a_batch_longer_than_the_lease_keeps_its_claim."""
    if conn.dialect.name != "postgresql":
        yield False
        return
    conn.commit()  # no transaction open: autocommit can be switched on
    driver = conn.connection.driver_connection
    driver.autocommit = True
    driver.execute("SET synchronous_commit TO off")
    try:
        yield True
    finally:
        try:
            driver.execute("RESET synchronous_commit")  # the pooled connection goes back as it came
            driver.autocommit = False
        except Exception:
            conn.invalidate()  # never back to the pool in autocommit (e.g. the database went away): closed
            raise


class WebhookSender(ChannelSender):
    """Sends due webhook deliveries, one per transaction, within the webhook rate limit. Looks for
    due ones every second when idle (each look is a transaction: five a second cost a busy worker
    2% of its CPU)."""

    def __init__(self, runtime, poll_interval: float = 1.0, limiter: domain.RateLimit | None = None):
        self.rt = runtime
        self.channel = "webhook"
        self.adapter = WebhookChannel(runtime.settings)
        self.poll_interval = poll_interval
        self.limiter = limiter or domain.RateLimit(runtime.settings.channel_rates.get("webhook", 0))

    def run_once(self) -> int:
        if not self.limiter.ready():
            return 0
        with self.rt.transaction() as session:
            due = due_webhook_deliveries(session, limit=1)
            for delivery in due:
                self.limiter.take()
                send_webhook(session, delivery, self.adapter, self.rt.settings)
            return len(due)


class Reminders:
    """Queues the reminders due before invitations' deadlines (reminders.queue_reminders), every
    ``interval`` seconds (``Settings.reminder_interval_seconds``, 60). Any number of workers may run
    it: each reminder is queued once. A wrong ``OCOP_REMINDER_DAYS`` stops it at start."""

    def __init__(self, runtime, interval: float | None = None):
        self.rt = runtime
        self.interval = interval if interval is not None else runtime.settings.reminder_interval_seconds
        self.offsets = reminder_offsets(runtime.settings)
        self.adapters = producer_channels(runtime.settings)
        self.emit = FanOutEmitter(runtime.emit)

    def run_once(self, now: datetime | None = None) -> int:
        with self.rt.transaction() as session:
            return queue_reminders(session, self.emit, self.rt.settings, self.adapters, now, self.offsets)

    def run_forever(self, stop: threading.Event) -> None:
        every(self.interval, lambda: {"queued": self.run_once()}, log, "reminders queued", "reminder sweep failed")(
            stop
        )


def senders(runtime, lookup=None, sole_sender: bool = False) -> list[ChannelSender]:
    """The channel senders: email over ``Settings.email_connections`` (3) SMTP connections at once (each
    its own sender: while one waits for the server or the database, another sends; three kept two
    worker replicas' CPU busiest in bench/notify.py, where two left it idle waiting for replies),
    one for SMS (rate-limited), one for webhooks."""
    configured = producer_channels(runtime.settings)
    out = []
    for channel in domain.PRODUCER_CHANNELS:
        if configured[channel].configured:
            count = runtime.settings.email_connections if channel == "email" else 1
            out += [ChannelSender(runtime, channel, lookup=lookup, sole_sender=sole_sender) for _ in range(count)]
    return out + [WebhookSender(runtime)]


def loops(runtime, lookup=None, sole_sender: bool = False):
    """The worker's loops; the embedded host passes its sinks' ``lookup`` and ``sole_sender``."""
    out = bus_loops(runtime, handlers(runtime))
    for i, sender in enumerate(senders(runtime, lookup, sole_sender)):
        out.append((f"{sender.channel}-sender-{i}", sender.run_forever))
    return out + [("reminders", Reminders(runtime).run_forever)]


def main():
    from .app import create_app

    worker_main(create_app, loops)


if __name__ == "__main__":
    main()
