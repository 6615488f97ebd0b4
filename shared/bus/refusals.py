"""Where a consumer puts the messages it will not apply: ``<queue>.dlq`` and ``<queue>.parking``.

Both are reached through the ``ocop.dead-letter`` topic exchange with routing keys that begin with
the service's name (``<queue>`` and ``<queue>.parking``), which is all a service user may publish
there: no service needs the default exchange. Each message keeps its body and string headers and
gains ``x-ocop-reason``, ``x-ocop-queue``, ``x-ocop-failed-at``, and where known
``x-ocop-details``, ``x-ocop-attempts`` (handler attempts), ``x-ocop-deliveries`` (the broker's
delivery count) and ``x-ocop-sender`` (the broker user that published it).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from . import metrics
from .connection import connect, is_amqp
from .publisher import OutgoingMessage, Publisher
from .topology import DEAD_LETTER_EXCHANGE, QueueSpec, declare
from .trust import Trust, attributable

log = logging.getLogger("ocop.consumer")

# The key of a handler table's hook for refused messages of an attributable sender (an
# integration's malformed command): ``hook(session, sender, refusal)``, in its own transaction.
REFUSED = "*refused*"


class SideQueues:
    spec: QueueSpec
    name: str
    broker_url: str
    session_factory: object
    trust: Trust
    on_refused = None  # the REFUSED hook, if the handler table has one

    _side_publisher: Publisher | None = None
    _side_declared = False

    def _side_publish(self, routing_key: str, body, headers: dict) -> None:
        if not self._side_declared:  # the side queues' bindings, even for a consumer that never ran
            conn = connect(self.broker_url)
            try:
                conn.ensure_connection(max_retries=3)
                declare(conn, is_amqp(self.broker_url), services=(self.spec.service,))
            finally:
                conn.release()
            self._side_declared = True
        if self._side_publisher is None:
            self._side_publisher = Publisher(self.broker_url)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        self._side_publisher.publish_batch(
            [
                OutgoingMessage(
                    exchange=DEAD_LETTER_EXCHANGE,
                    routing_key=routing_key,
                    body=text,
                    message_id=str((headers or {}).get("message_id", "")),
                    type=str((headers or {}).get("type", "unknown")),
                    headers=headers,
                )
            ]
        )

    def _failure_headers(self, headers, reason, details=None, attempts=None, meta=None) -> dict:
        out = {k: v for k, v in (headers or {}).items() if isinstance(v, (str, int, float, bool))}
        out.update(
            {
                "x-ocop-reason": reason[:1000],
                "x-ocop-queue": self.name,
                "x-ocop-failed-at": datetime.now(UTC).isoformat(),
            }
        )
        if details is not None:
            out["x-ocop-details"] = json.dumps(details, ensure_ascii=False, default=str)[:4000]
        if attempts is not None:
            out["x-ocop-attempts"] = attempts
        if meta:
            out["x-ocop-deliveries"] = meta.get("deliveries", 1)
            if meta.get("user_id"):
                out["x-ocop-sender"] = str(meta["user_id"])
        return out

    def _dead_letter(self, body, content_type, headers, reason, details=None, meta=None, untrusted=False) -> str:
        log.warning("dead-lettering message", extra={"consumer": self.name, "reason": reason})
        self._reply_refusal(body, headers, reason, details, meta)
        self._side_publish(self.spec.dlq_key, body, self._failure_headers(headers, reason, details, meta=meta))
        metrics.DEAD_LETTERED.labels(self.spec.name).inc()
        if untrusted:
            metrics.UNTRUSTED.labels(self.spec.name).inc()
        return "dead-lettered"

    def _park(self, body, content_type, headers, reason, attempts, meta=None) -> str:
        log.error("parking message after retries", extra={"consumer": self.name, "reason": reason})
        self._side_publish(
            self.spec.parking_key, body, self._failure_headers(headers, reason, attempts=attempts, meta=meta)
        )
        metrics.PARKED.labels(self.spec.name).inc()
        return "parked"

    def _reply_refusal(self, body, headers, reason, details, meta) -> None:
        """Tell the sender of a message that could not even be read, when we know who it is."""
        sender = attributable((meta or {}).get("user_id"), self.trust)
        if self.on_refused is None or not sender:
            return
        refusal = {
            "reason": reason,
            "details": details,
            "message_id": (headers or {}).get("message_id"),
            "type": (headers or {}).get("type"),
            "body": body,
        }
        try:
            with self.session_factory() as session, session.begin():
                self.on_refused(session, sender, refusal)
        except Exception:  # noqa: BLE001 - the message still goes to the DLQ, with its reason
            log.exception("could not answer a refused message", extra={"consumer": self.name})

    def close_side(self) -> None:
        if self._side_publisher is not None:
            self._side_publisher.close()
            self._side_publisher = None
