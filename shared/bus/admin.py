"""Broker administration shared by the CLI and /metrics: queue sizes, listing, re-driving."""

from __future__ import annotations

import json

from kombu import Producer


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
_BROKER_HEADERS = ("x-death", "x-delivery-count", "x-first-death-exchange", "x-first-death-queue",
                   "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason")


def _describe(msg) -> dict:
    body = msg.body.decode("utf-8", "replace") if isinstance(msg.body, bytes) else msg.body
    headers = dict(msg.headers or {})
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return {"message_id": (msg.properties or {}).get("message_id") or headers.get("message_id"),
            "type": (msg.properties or {}).get("type") or headers.get("type"),
            "reason": headers.get("x-ocop-reason") or _broker_reason(headers),
            "attempts": headers.get("x-ocop-attempts") or headers.get("x-delivery-count"),
            "failed_at": headers.get("x-ocop-failed-at"), "headers": headers, "body": parsed if parsed else body}


def _broker_reason(headers: dict) -> str | None:
    """Why the broker itself dead-lettered a message (the delivery-limit safety net)."""
    reason = headers.get("x-first-death-reason")
    if reason:
        return f"broker dead-lettered it from {headers.get('x-first-death-queue')}: {reason}"
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


def redrive(conn, from_queue: str, to_queue: str, message_id: str | None = None, limit: int = 10_000,
            confirm_timeout: float = 10.0) -> int:
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
            headers = {k: v for k, v in info["headers"].items()
                       if not k.startswith("x-ocop-") and k not in _BROKER_HEADERS}
            headers["x-ocop-redriven"] = int(info["headers"].get("x-ocop-redriven", 0)) + 1
            properties = {"delivery_mode": 2, "message_id": info["message_id"], "type": info["type"]}
            correlation_id = (msg.properties or {}).get("correlation_id")
            if correlation_id:
                properties["correlation_id"] = correlation_id
            content_type = getattr(msg, "content_type", None) or "application/json"
            encoding = getattr(msg, "content_encoding", None) or "utf-8"
            if amqp:
                message = pub_channel.prepare_message(msg.body, content_type=content_type, content_encoding=encoding,
                                                      headers=headers, properties=properties)
                pub_channel.basic_publish_confirm(message, exchange="", routing_key=to_queue, mandatory=True,
                                                  confirm_timeout=confirm_timeout)
            else:
                producer.publish(msg.body, exchange="", routing_key=to_queue, serializer=None,
                                 content_type=content_type, content_encoding="utf-8", headers=headers,
                                 retry=True, retry_policy={"max_retries": 3}, **properties)
            channel.basic_ack(msg.delivery_tag)  # py-amqp's basic_get gives a bare message (no .ack())
            moved += 1
    finally:
        for ch in (channel, pub_channel):
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - a channel the broker closed on error
                pass
    return moved
