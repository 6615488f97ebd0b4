"""Idempotent consumer with dead-lettering, retries and parking.

For each delivery: accept only JSON; validate the envelope and the data against the contract
(failures go to ``<queue>.dlq`` with the reason in headers, then the delivery is acked); record
``(consumer, event id)`` in the inbox in the same transaction as the handler's writes (a
duplicate is acked and skipped); retry transient errors with backoff, then park the message in
``<queue>.parking``; acknowledge only after commit.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kombu import Consumer
from marshmallow import ValidationError
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
                 broker_url: str, max_attempts: int = 4, prefetch: int = 50, backoff: float = 0.2):
        self.spec = spec
        self.name = spec.name
        self.session_factory = session_factory
        self.inbox = inbox_model
        self.handlers = handlers
        self.broker_url = broker_url
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.backoff = backoff
        self._side_publisher: Publisher | None = None

    # ---- one message -------------------------------------------------------------------
    def handle_raw(self, body: bytes | str, content_type: str | None, headers: dict | None) -> str:
        """Process one delivery; returns the outcome. Never raises for bad messages."""
        if content_type != "application/json":
            return self._dead_letter(body, content_type, headers, f"content type {content_type!r} is not application/json")
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
        return self._apply(handler, envelope, data, body, content_type, headers)

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
        props = message.properties or {}
        headers = dict(message.headers or {})
        headers.setdefault("message_id", props.get("message_id"))
        headers.setdefault("type", props.get("type"))
        self.handle_raw(message.body, message.content_type, headers)
        message.ack()

    def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set; reconnects forever with capped backoff."""
        backoff = 0.5
        amqp = is_amqp(self.broker_url)
        while not stop.is_set():
            conn = connect(self.broker_url)
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
                        except (TimeoutError, socket.timeout):
                            if amqp:
                                conn.heartbeat_check()
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
