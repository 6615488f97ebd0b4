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
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kombu import Consumer
from marshmallow import ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import context
from ..contracts import ContractError, parse_envelope
from . import metrics
from .connection import connect, is_amqp
from .publisher import OutgoingMessage, Publisher
from .topology import QueueSpec, declare, kombu_queues

log = logging.getLogger("ocop.consumer")

Handler = Callable[[Session, dict, dict], None]


class Refused(Exception):
    """A handler's verdict that a message can never be applied (dead-letter it, don't retry)."""


class IdempotentConsumer:
    def __init__(self, spec: QueueSpec, session_factory, inbox_model, handlers: dict[str, Handler],
                 broker_url: str, max_attempts: int = 4, prefetch: int = 50, backoff: float = 0.2,
                 batch_size: int | None = None):
        self.spec = spec
        self.name = spec.name
        self.session_factory = session_factory
        self.inbox = inbox_model
        self.handlers = handlers
        self.broker_url = broker_url
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.backoff = backoff
        # More unacked deliveries than the prefetch never arrive: a larger batch could not fill.
        self.batch_size = max(1, min(batch_size or prefetch, prefetch))
        self._side_publisher: Publisher | None = None
        self._pending: list = []  # deliveries received, not yet applied (this connection's)
        # RabbitMQ acks "this delivery and all before it" in one frame; the embedded broker
        # deletes only the tag it is given, so there every message is acked on its own.
        self._ack_multiple = is_amqp(broker_url)

    # ---- one message -------------------------------------------------------------------
    def handle_raw(self, body: bytes | str, content_type: str | None, headers: dict | None) -> str:
        """Process one delivery; returns the outcome. Never raises for bad messages."""
        checked = self._check(body, content_type, headers)
        if isinstance(checked, str):
            return checked
        handler, envelope, data = checked
        return self._apply(handler, envelope, data, body, content_type, headers)

    def _check(self, body, content_type, headers):
        """What can be decided before the database: an outcome (dead-lettered, ignored), or the
        ``(handler, envelope, data)`` to apply."""
        if content_type != "application/json":
            return self._dead_letter(body, content_type, headers,
                                     f"content type {content_type!r} is not application/json")
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._dead_letter(body, content_type, headers, f"body is not valid JSON: {exc}")
        try:
            envelope, data = parse_envelope(raw)
        except ContractError as exc:
            return self._dead_letter(body, content_type, headers, exc.reason, exc.details)
        handler = self.handlers.get(envelope["type"])
        if handler is None:  # a valid event this group does not act on (a wider binding)
            return "ignored"
        return handler, envelope, data

    def _apply(self, handler, envelope, data, body, content_type, headers) -> str:
        tokens = (context.correlation_id.set(envelope["correlation_id"]), context.causation_id.set(envelope["id"]))
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    return self._apply_once(handler, envelope, data)
                except (Refused, ContractError, ValidationError) as exc:
                    metrics.FAILED.labels(self.name, "refused").inc()
                    return self._dead_letter(body, content_type, headers, f"refused by handler: {exc}")
                except Exception as exc:  # transient until proven otherwise
                    metrics.FAILED.labels(self.name, "error").inc()
                    log.warning("handler failed", extra={"consumer": self.name, "event_id": envelope["id"],
                                                         "attempt": attempt, "error": repr(exc)})
                    if attempt == self.max_attempts:
                        return self._park(body, content_type, headers, repr(exc), attempt)
                    time.sleep(min(self.backoff * 2 ** (attempt - 1), 5))
        finally:
            context.correlation_id.reset(tokens[0])
            context.causation_id.reset(tokens[1])
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
        """Process ``(body, content_type, headers)`` deliveries; returns their outcomes in order.

        The ones to apply go into one transaction; if it fails, nothing of it was written and
        each is applied on its own (``_apply``: retries, refusal, parking, duplicates).
        """
        outcomes: list[str | None] = [None] * len(deliveries)
        todo = []
        for i, (body, content_type, headers) in enumerate(deliveries):
            checked = self._check(body, content_type, headers)
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
                session.execute(insert(self.inbox.__table__), [
                    {"consumer": self.name, "event_id": envelope["id"], "event_type": envelope["type"]}
                    for _, _, envelope, _ in todo])
                handlers = {id(h) for _, h, _, _ in todo}
                many = getattr(todo[0][1], "many", None)
                if len(handlers) == 1 and many is not None:
                    # The handler takes the whole batch at once (e.g. one round trip of upserts).
                    many(session, [(envelope, data) for _, _, envelope, data in todo])
                    todo_each = []
                else:
                    todo_each = todo
                for _, handler, envelope, data in todo_each:
                    tokens = (context.correlation_id.set(envelope["correlation_id"]),
                              context.causation_id.set(envelope["id"]))
                    try:
                        handler(session, envelope, data)
                    finally:
                        context.correlation_id.reset(tokens[0])
                        context.causation_id.reset(tokens[1])
        except Exception as exc:  # noqa: BLE001 - a duplicate, a refusal, an error: one by one decides
            log.info("batch not applied; applying its messages one by one",
                     extra={"consumer": self.name, "size": len(todo), "error": repr(exc)})
            return False
        metrics.HANDLED.labels(self.name).inc(len(todo))
        return True

    def _seen(self, event_id: str) -> bool:
        with self.session_factory() as session:
            return session.get(self.inbox, (self.name, event_id)) is not None

    # ---- refusing -----------------------------------------------------------------------
    def _side_publish(self, queue: str, body, content_type, headers: dict) -> None:
        if self._side_publisher is None:
            self._side_publisher = Publisher(self.broker_url)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        self._side_publisher.publish_batch([OutgoingMessage(
            exchange="", routing_key=queue, body=text, message_id=str((headers or {}).get("message_id", "")),
            type=str((headers or {}).get("type", "unknown")), headers=headers)])

    def _failure_headers(self, headers, reason, details=None, attempts=None) -> dict:
        out = {k: v for k, v in (headers or {}).items() if isinstance(v, (str, int, float, bool))}
        out.update({"x-ocop-reason": reason[:1000], "x-ocop-queue": self.name,
                    "x-ocop-failed-at": datetime.now(UTC).isoformat()})
        if details is not None:
            out["x-ocop-details"] = json.dumps(details, ensure_ascii=False)[:4000]
        if attempts is not None:
            out["x-ocop-attempts"] = attempts
        return out

    def _dead_letter(self, body, content_type, headers, reason, details=None) -> str:
        log.warning("dead-lettering message", extra={"consumer": self.name, "reason": reason})
        self._side_publish(self.spec.dlq, body, content_type, self._failure_headers(headers, reason, details))
        metrics.DEAD_LETTERED.labels(self.spec.name).inc()
        return "dead-lettered"

    def _park(self, body, content_type, headers, reason, attempts) -> str:
        log.error("parking message after retries", extra={"consumer": self.name, "reason": reason})
        self._side_publish(self.spec.parking, body, content_type,
                           self._failure_headers(headers, reason, attempts=attempts))
        metrics.PARKED.labels(self.spec.name).inc()
        return "parked"

    # ---- the loop -----------------------------------------------------------------------
    def _on_message(self, message) -> None:
        self._pending.append(message)

    def _process_pending(self) -> None:
        """Apply the received deliveries, then ack each (after the commit that recorded it)."""
        messages, self._pending = self._pending, []
        deliveries = []
        for message in messages:
            props = message.properties or {}
            headers = dict(message.headers or {})
            headers.setdefault("message_id", props.get("message_id"))
            headers.setdefault("type", props.get("type"))
            deliveries.append((message.body, message.content_type, headers))
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

    def _take_waiting(self, conn) -> None:
        """Receive what has already arrived, without waiting, up to a batch."""
        while len(self._pending) < self.batch_size:
            try:
                conn.drain_events(timeout=0)
            except TimeoutError:  # socket.timeout is the same class
                return

    def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set; reconnects forever with capped backoff."""
        backoff = 0.5
        amqp = is_amqp(self.broker_url)
        while not stop.is_set():
            conn = connect(self.broker_url)
            self._pending = []  # unacked deliveries of a lost connection come again
            try:
                conn.ensure_connection(max_retries=1)
                declare(conn, amqp, services=(self.spec.service,))
                queue = kombu_queues(self.spec, amqp)[0]
                with Consumer(conn.channel(), queues=[queue], on_message=self._on_message,
                              prefetch_count=self.prefetch, accept=["json"]):
                    backoff = 0.5
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
                            self._take_waiting(conn)
                            self._process_pending()
            except Exception as exc:  # noqa: BLE001 - any broker failure: reconnect
                if stop.is_set():
                    break
                log.warning("consumer connection lost; reconnecting", extra={"consumer": self.name,
                                                                             "error": repr(exc), "backoff": backoff})
                stop.wait(backoff)
                backoff = min(backoff * 2, 30)
            finally:
                try:
                    conn.release()
                except Exception:  # noqa: BLE001
                    pass
        if self._side_publisher is not None:
            self._side_publisher.close()
