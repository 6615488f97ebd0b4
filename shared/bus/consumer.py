"""Idempotent consumer with dead-lettering, retries and parking.

For each delivery: accept only JSON; validate the envelope and the data against the contract
(failures go to ``<queue>.dlq`` with the reason in headers, then the delivery is acked); record
``(consumer, event id)`` in the inbox in the same transaction as the handler's writes (a
duplicate is acked and skipped); retry transient errors with backoff, then park the message in
``<queue>.parking``; acknowledge only after commit.

Deliveries that are already waiting when one arrives (up to ``batch_size``, at most the
prefetch) are applied together: their inbox rows and their handlers' writes in one
transaction, each handler with its own message's correlation and causation ids, and every
message acked after that one commit. One commit per message cost more than everything else the
consumer did (see bench/pipeline.py). If anything in a batch fails, the whole transaction is
rolled back and its messages are applied one by one, each in its own transaction, with the
retries, dead-lettering, parking and duplicate detection described above.

Trust (shared/bus/trust.py): a message whose source does not fit its type and routing key, or
(RabbitMQ) whose ``user_id`` is not the broker user of that source, is dead-lettered as
untrusted and counted (``ocop_messages_untrusted_total``). Anything that cannot be decoded,
whatever the exception (JSON nested 100,000 deep raises RecursionError), is dead-lettered with
the reason: a message never stalls its queue.

Crash loops (RabbitMQ): a quorum queue counts the deliveries of a message that was never acked
and dead-letters it at the policy's delivery limit. So that a process killed again and again does
not push innocent messages there, a consumer starts with a prefetch of 1 and doubles it after each
clean batch up to ``prefetch``; a message delivered ``SUSPECT_DELIVERIES`` times or more is
handled on its own (the rest of its batch too, each acked at once); and one delivered
``POISON_DELIVERIES`` times, having been handled alone since its third delivery and never
finished, is dead-lettered by the consumer with that reason. The broker's limit is far above.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from kombu import Consumer
from marshmallow import ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import context
from ..contracts import ContractError, contract_for, parse_envelope
from ..retry import Backoff, backoff_seconds
from . import metrics
from .connection import connect, is_amqp
from .refusals import REFUSED, SideQueues
from .topology import QueueSpec, declare, kombu_queues
from .trust import Trust

log = logging.getLogger("ocop.consumer")

Handler = Callable[[Session, dict, dict], None]
SUSPECT_DELIVERIES = 3  # delivered this many times before: handled on its own
POISON_DELIVERIES = 20  # ... and this many: it crashed its consumer each time, dead-letter it
_SOURCE_ONLY = Trust(check_users=False)


class Refused(Exception):
    """A handler's verdict that a message can never be applied (dead-letter it, don't retry)."""


class IdempotentConsumer(SideQueues):
    def __init__(
        self,
        spec: QueueSpec,
        session_factory,
        inbox_model,
        handlers: dict[str, Handler],
        broker_url: str,
        max_attempts: int = 4,
        prefetch: int = 50,
        backoff: float = 0.2,
        batch_size: int | None = None,
        trust: Trust | None = None,
    ):
        self.spec = spec
        self.name = spec.name
        self.session_factory = session_factory
        self.inbox = inbox_model
        handlers = dict(handlers)
        self.on_refused = handlers.pop(REFUSED, None)
        self.handlers = handlers
        self.broker_url = broker_url
        self.trust = trust or Trust(check_users=is_amqp(broker_url))  # a service passes Trust.of(settings)
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.backoff = backoff
        # More unacked deliveries than the prefetch never arrive: a larger batch could not fill.
        self.batch_size = max(1, min(batch_size or prefetch, prefetch))
        self._pending: list = []  # deliveries received, not yet applied (this connection's)
        # RabbitMQ acks "this delivery and all before it" in one frame; the embedded broker
        # deletes only the tag it is given, so there every message is acked on its own.
        self._ack_multiple = is_amqp(broker_url)

    # ---- one message -------------------------------------------------------------------
    def handle_raw(
        self, body: bytes | str, content_type: str | None, headers: dict | None, meta: dict | None = None
    ) -> str:
        """Process one delivery; returns the outcome. Never raises for bad messages.

        ``meta`` is what the broker says about the delivery (``user_id``, ``exchange``,
        ``routing_key``, ``deliveries``); without it (a caller handing a message over directly)
        only the source is checked against the type."""
        checked = self._check(body, content_type, headers, meta)
        if isinstance(checked, str):
            return checked
        handler, envelope, data = checked
        return self._apply(handler, envelope, data, body, content_type, headers, meta)

    def _check(self, body, content_type, headers, meta=None):
        """What can be decided before the database: an outcome (dead-lettered, ignored), or the
        ``(handler, envelope, data)`` to apply."""
        meta = meta or {}
        if content_type != "application/json":
            return self._dead_letter(
                body, content_type, headers, f"content type {content_type!r} is not application/json", meta=meta
            )
        try:
            raw = json.loads(body)
        except Exception as exc:  # noqa: BLE001 - ValueError, RecursionError (deep nesting), MemoryError...
            return self._dead_letter(body, content_type, headers, f"body is not valid JSON: {_short(exc)}", meta=meta)
        try:
            envelope, data = parse_envelope(raw)
            contract = contract_for(envelope["type"], envelope["version"])
        except ContractError as exc:
            return self._dead_letter(body, content_type, headers, exc.reason, exc.details, meta=meta)
        except Exception as exc:  # noqa: BLE001 - whatever else a hostile document makes the schemas do
            return self._dead_letter(
                body, content_type, headers, f"message cannot be decoded: {_short(exc)}", meta=meta
            )
        trust = self.trust if meta else _SOURCE_ONLY  # no broker metadata: only the source can be checked
        refusal = trust.refusal(
            envelope, contract.source, meta.get("exchange"), meta.get("routing_key"), meta.get("user_id")
        )
        if refusal:
            return self._dead_letter(body, content_type, headers, refusal, meta=meta, untrusted=True)
        envelope["sender"] = self.trust.sender(envelope, meta.get("user_id"))  # an integration to reply to
        handler = self.handlers.get(envelope["type"])
        if handler is None:  # a valid event this group does not act on (a wider binding)
            return "ignored"
        return handler, envelope, data

    def _apply(self, handler, envelope, data, body, content_type, headers, meta=None) -> str:
        with context.caused_by(envelope):
            for attempt in range(1, self.max_attempts + 1):
                try:
                    return self._apply_once(handler, envelope, data)
                except (Refused, ContractError, ValidationError) as exc:
                    metrics.FAILED.labels(self.name, "refused").inc()
                    return self._dead_letter(body, content_type, headers, f"refused by handler: {exc}", meta=meta)
                except Exception as exc:  # transient until proven otherwise
                    metrics.FAILED.labels(self.name, "error").inc()
                    log.warning(
                        "handler failed",
                        extra={
                            "consumer": self.name,
                            "event_id": envelope["id"],
                            "attempt": attempt,
                            "error": repr(exc),
                        },
                    )
                    if attempt == self.max_attempts:
                        return self._park(body, content_type, headers, repr(exc), attempt, meta=meta)
                    time.sleep(backoff_seconds(attempt, self.backoff, 5))
        return "unreachable"

    def _apply_once(self, handler, envelope, data) -> str:
        with self.session_factory() as session:
            try:
                with session.begin():
                    session.add(self.inbox(consumer=self.name, event_id=envelope["id"], event_type=envelope["type"]))
                    session.flush()
                    handler(session, envelope, data)
            except IntegrityError:
                if self._seen(envelope["id"]):
                    metrics.DUPLICATES.labels(self.name).inc()
                    return "duplicate"
                raise
        metrics.HANDLED.labels(self.name).inc()
        return "handled"

    # ---- several messages, one transaction ---------------------------------------------------
    def handle_batch(self, deliveries: list[tuple]) -> list[str]:
        """Process ``(body, content_type, headers[, meta])`` deliveries; returns their outcomes in order.

        The ones to apply go into one transaction; if it fails, nothing of it was written and
        each is applied on its own (``_apply``: retries, refusal, parking, duplicates).
        """
        outcomes: list[str | None] = [None] * len(deliveries)
        todo = []
        for i, delivery in enumerate(deliveries):
            checked = self._check(*delivery)
            if isinstance(checked, str):
                outcomes[i] = checked
            else:
                todo.append((i, *checked))
        if len(todo) > 1 and self._apply_together(todo):
            for i, *_ in todo:
                outcomes[i] = "handled"
        else:
            for i, handler, envelope, data in todo:
                outcomes[i] = self._apply(handler, envelope, data, *deliveries[i])
        return outcomes

    def _apply_together(self, todo) -> bool:
        """Inbox rows and handlers of several messages in one transaction; False if it failed
        (then it was rolled back as a whole)."""
        try:
            with self.session_factory() as session, session.begin():
                # One multi-row INSERT through Core (the ORM's unit of work cost more than it did).
                session.execute(
                    insert(self.inbox.__table__),
                    [
                        {"consumer": self.name, "event_id": envelope["id"], "event_type": envelope["type"]}
                        for _, _, envelope, _ in todo
                    ],
                )
                handlers = {id(h) for _, h, _, _ in todo}
                many = getattr(todo[0][1], "many", None)
                if len(handlers) == 1 and many is not None:
                    # The handler takes the whole batch at once (e.g. one round trip of upserts).
                    many(session, [(envelope, data) for _, _, envelope, data in todo])
                    todo_each = []
                else:
                    todo_each = todo
                for _, handler, envelope, data in todo_each:
                    with context.caused_by(envelope):
                        handler(session, envelope, data)
        except Exception as exc:  # noqa: BLE001 - a duplicate, a refusal, an error: one by one decides
            log.info(
                "batch not applied; applying its messages one by one",
                extra={"consumer": self.name, "size": len(todo), "error": repr(exc)},
            )
            return False
        metrics.HANDLED.labels(self.name).inc(len(todo))
        return True

    def _seen(self, event_id: str) -> bool:
        with self.session_factory() as session:
            return session.get(self.inbox, (self.name, event_id)) is not None

    # ---- the loop -----------------------------------------------------------------------
    def _on_message(self, message) -> None:
        self._pending.append(message)

    def _process_pending(self) -> bool:
        """Apply the received deliveries, then ack each (after the commit that recorded it).
        Returns whether the batch was clean (no message redelivered several times)."""
        messages, self._pending = self._pending, []
        deliveries = [_delivery(m) for m in messages]
        counts = [d[3]["deliveries"] - 1 for d in deliveries]  # earlier deliveries of each
        if max(counts) >= SUSPECT_DELIVERIES:
            # Some message keeps coming back: each one on its own, acked at once, so that whatever
            # crashes the process takes as few of its neighbours' deliveries with it as it can.
            for message, delivery, earlier in zip(messages, deliveries, counts, strict=True):
                if earlier >= POISON_DELIVERIES:
                    metrics.POISON.labels(self.spec.name).inc()
                    self._dead_letter(
                        *delivery[:3],
                        f"delivered {earlier + 1} times without being acknowledged: "
                        f"handled on its own since its delivery {SUSPECT_DELIVERIES + 1}, it never "
                        "finished (it crashes its consumer)",
                        meta=delivery[3],
                    )
                else:
                    self.handle_raw(*delivery)
                message.ack()
            return False
        if len(deliveries) == 1:
            self.handle_raw(*deliveries[0])
        else:
            self.handle_batch(deliveries)
        if self._ack_multiple and len(messages) > 1:
            # One frame for the batch: every earlier delivery of this channel is acked already.
            messages[-1].ack(multiple=True)
        else:
            for message in messages:
                message.ack()
        return True

    def _take_waiting(self, conn, limit: int) -> None:
        """Receive what has already arrived, without waiting, up to a batch."""
        while len(self._pending) < limit:
            try:
                conn.drain_events(timeout=0)
            except TimeoutError:  # socket.timeout is the same class
                return

    def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set; reconnects forever with capped backoff."""
        backoff = Backoff(0.5, 30)
        amqp = is_amqp(self.broker_url)
        while not stop.is_set():
            conn = connect(self.broker_url)
            self._pending = []  # unacked deliveries of a lost connection come again
            # Slow start (RabbitMQ): one message first, then twice as many after each clean batch.
            prefetch = 1 if amqp else self.prefetch
            try:
                conn.ensure_connection(max_retries=1)
                declare(conn, amqp, services=(self.spec.service,))
                queue = kombu_queues(self.spec, amqp)[0]
                with Consumer(
                    conn.channel(),
                    queues=[queue],
                    on_message=self._on_message,
                    prefetch_count=prefetch,
                    accept=["json"],
                ) as consumer:
                    backoff.reset()
                    if ready is not None:
                        ready.set()
                    log.info("consuming", extra={"consumer": self.name})
                    while not stop.is_set():
                        try:
                            conn.drain_events(timeout=0.5)
                        except TimeoutError:
                            if amqp:
                                conn.heartbeat_check()
                        if self._pending:
                            self._take_waiting(conn, min(prefetch, self.batch_size))
                            clean = self._process_pending()
                            if clean and prefetch < self.prefetch:
                                prefetch = min(prefetch * 2, self.prefetch)
                                _reconsume(consumer, prefetch)
            except Exception as exc:  # noqa: BLE001 - any broker failure: reconnect
                if stop.is_set():
                    break
                wait = backoff.next()
                log.warning(
                    "consumer connection lost; reconnecting",
                    extra={"consumer": self.name, "error": repr(exc), "backoff": wait},
                )
                stop.wait(wait)
            finally:
                try:
                    conn.release()
                except Exception:  # noqa: BLE001
                    pass
        self.close_side()


def _delivery(message) -> tuple:
    """``(body, content_type, headers, meta)`` of a kombu message; ``meta`` is what the broker says."""
    props = message.properties or {}
    headers = dict(message.headers or {})
    headers.setdefault("message_id", props.get("message_id"))
    headers.setdefault("type", props.get("type"))
    info = message.delivery_info or {}
    try:
        earlier = int(headers.get("x-delivery-count") or 0)  # RabbitMQ quorum queues: earlier deliveries
    except (TypeError, ValueError):
        earlier = 0
    meta = {
        "user_id": props.get("user_id"),
        "exchange": info.get("exchange"),
        "routing_key": info.get("routing_key"),
        "deliveries": earlier + 1,
    }
    return message.body, message.content_type, headers, meta


def _reconsume(consumer: Consumer, prefetch: int) -> None:
    """A new prefetch for the queue: RabbitMQ applies basic.qos to consumers started after it, so
    cancel and consume again (deliveries already received stay ours to ack)."""
    consumer.cancel()
    consumer.qos(prefetch_count=prefetch)
    consumer.consume()


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"
