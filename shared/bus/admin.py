"""Broker administration shared by the CLI and /metrics: queue sizes, listing, re-driving."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kombu import Producer

from .definitions import DELIVERY_LIMIT


def queue_size(conn, queue: str) -> int:
    channel = conn.default_channel
    if hasattr(channel, "_size"):  # embedded transport
        return channel._size(queue)
    try:
        return channel.queue_declare(queue=queue, passive=True).message_count
    except Exception:  # noqa: BLE001 - queue not declared yet
        return 0


def peek(conn, queue: str, limit: int = 100) -> list[dict]:
    """Messages of a queue without consuming them (fetched unacked, then returned on close)."""
    channel = conn.channel()
    out = []
    try:
        for _ in range(limit):
            msg = channel.basic_get(queue, no_ack=False)
            if msg is None:
                break
            out.append(_describe(msg))
    finally:
        channel.close()  # unacked messages go back to the queue
    return out


# Headers the broker keeps about a message's past deliveries and dead-letterings: a redriven
# message starts afresh (a stale x-death could also trip RabbitMQ's dead-letter cycle detection).
_BROKER_HEADERS = (
    "x-death",
    "x-delivery-count",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


def _describe(msg) -> dict:
    body = msg.body.decode("utf-8", "replace") if isinstance(msg.body, bytes) else msg.body
    headers = dict(msg.headers or {})
    try:
        parsed = json.loads(body)
    except Exception:  # noqa: BLE001 - not JSON, or JSON too deep to read: show the text
        parsed = None
    deaths = _deaths(headers)
    return {
        "message_id": (msg.properties or {}).get("message_id") or headers.get("message_id"),
        "type": (msg.properties or {}).get("type") or headers.get("type"),
        "reason": headers.get("x-ocop-reason") or _broker_reason(deaths),
        "attempts": headers.get("x-ocop-attempts"),
        "deliveries": headers.get("x-ocop-deliveries") or _broker_deliveries(deaths),
        "sender": headers.get("x-ocop-sender") or (msg.properties or {}).get("user_id"),
        "failed_at": headers.get("x-ocop-failed-at") or (deaths[0]["time"] if deaths else None),
        "dead_lettered_by_broker": deaths,
        "headers": headers,
        "body": parsed if parsed else body,
    }


def _deaths(headers: dict) -> list[dict]:
    """The broker's ``x-death`` records (newest first): why, from which queue, how often, when."""
    out = []
    for death in headers.get("x-death") or []:
        if not isinstance(death, dict):
            continue
        when = death.get("time")
        if isinstance(when, datetime):
            when = (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()
        out.append(
            {
                "reason": death.get("reason"),
                "queue": death.get("queue"),
                "count": death.get("count"),
                "time": when,
                "exchange": death.get("exchange"),
                "routing_keys": death.get("routing-keys"),
            }
        )
    return out


def _broker_reason(deaths: list[dict]) -> str | None:
    """Why the broker itself dead-lettered a message (the delivery-limit safety net, a rejection...)."""
    if not deaths:
        return None
    d = deaths[0]
    if d["reason"] == "delivery_limit":
        return (
            f"the broker dead-lettered it from {d['queue']}: delivered more than its delivery limit "
            f"({DELIVERY_LIMIT}) without an acknowledgement, at {d['time']}"
        )
    return f"the broker dead-lettered it from {d['queue']}: {d['reason']}, at {d['time']}"


def _broker_deliveries(deaths: list[dict]) -> int | None:
    """A quorum queue dead-letters a message at the delivery after its limit (the policy's)."""
    if deaths and deaths[0]["reason"] == "delivery_limit":
        return DELIVERY_LIMIT + 1
    return None


def _is_amqp(conn) -> bool:
    return getattr(conn.transport, "driver_type", "") == "amqp"


def queue_exists(conn, queue: str) -> bool:
    if not _is_amqp(conn):
        return True  # embedded: queues exist implicitly
    channel = conn.channel()
    try:
        channel.queue_declare(queue=queue, passive=True)
        return True
    except Exception:  # noqa: BLE001 - NOT_FOUND closes the channel
        return False
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001
            pass


def redrive(
    conn,
    from_queue: str,
    to_queue: str,
    message_id: str | None = None,
    limit: int = 10_000,
    confirm_timeout: float = 10.0,
) -> int:
    """Move messages (all, or those with ``message_id``) back to the consumer's queue.

    Each message is republished to ``to_queue`` and removed from ``from_queue`` only once the
    broker confirmed the copy (RabbitMQ: publisher confirm, mandatory so an unroutable copy
    fails instead of vanishing; embedded: the publish is a committed insert). A failure leaves
    the message where it was; at worst a message is in both queues, and consumers are
    idempotent.
    """
    if not queue_exists(conn, to_queue):
        raise LookupError(f"queue {to_queue!r} does not exist on the broker; declare the topology first")
    amqp = _is_amqp(conn)
    channel = conn.channel()
    pub_channel = conn.channel()
    producer = None if amqp else Producer(pub_channel)
    moved = 0
    try:
        for _ in range(limit):
            msg = channel.basic_get(from_queue, no_ack=False)
            if msg is None:
                break
            info = _describe(msg)
            if message_id and info["message_id"] != message_id:
                continue  # left unacked: returns to the queue when the channel closes
            headers = {
                k: v for k, v in info["headers"].items() if not k.startswith("x-ocop-") and k not in _BROKER_HEADERS
            }
            headers["x-ocop-redriven"] = int(info["headers"].get("x-ocop-redriven", 0)) + 1
            properties = {"delivery_mode": 2, "message_id": info["message_id"], "type": info["type"]}
            if amqp:  # re-driven under the operator's name, whom consumers trust (OCOP_BROKER_OPERATORS)
                properties["user_id"] = conn.userid or "guest"
            correlation_id = (msg.properties or {}).get("correlation_id")
            if correlation_id:
                properties["correlation_id"] = correlation_id
            content_type = getattr(msg, "content_type", None) or "application/json"
            encoding = getattr(msg, "content_encoding", None) or "utf-8"
            if amqp:
                message = pub_channel.prepare_message(
                    msg.body,
                    content_type=content_type,
                    content_encoding=encoding,
                    headers=headers,
                    properties=properties,
                )
                pub_channel.basic_publish_confirm(
                    message, exchange="", routing_key=to_queue, mandatory=True, confirm_timeout=confirm_timeout
                )
            else:
                producer.publish(
                    msg.body,
                    exchange="",
                    routing_key=to_queue,
                    serializer=None,
                    content_type=content_type,
                    content_encoding="utf-8",
                    headers=headers,
                    retry=True,
                    retry_policy={"max_retries": 3},
                    **properties,
                )
            channel.basic_ack(msg.delivery_tag)  # py-amqp's basic_get gives a bare message (no .ack())
            moved += 1
    finally:
        for ch in (channel, pub_channel):
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - a channel the broker closed on error
                pass
    return moved
