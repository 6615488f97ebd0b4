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


def _describe(msg) -> dict:
    body = msg.body.decode("utf-8", "replace") if isinstance(msg.body, bytes) else msg.body
    headers = dict(msg.headers or {})
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return {"message_id": (msg.properties or {}).get("message_id") or headers.get("message_id"),
            "type": (msg.properties or {}).get("type") or headers.get("type"),
            "reason": headers.get("x-ocop-reason"), "attempts": headers.get("x-ocop-attempts"),
            "failed_at": headers.get("x-ocop-failed-at"), "headers": headers, "body": parsed if parsed else body}


def redrive(conn, from_queue: str, to_queue: str, message_id: str | None = None, limit: int = 10_000) -> int:
    """Move messages (all, or the one with ``message_id``) back to the consumer's queue."""
    channel = conn.channel()
    producer = Producer(conn.channel())
    moved = 0
    try:
        for _ in range(limit):
            msg = channel.basic_get(from_queue, no_ack=False)
            if msg is None:
                break
            info = _describe(msg)
            if message_id and info["message_id"] != message_id:
                continue  # left unacked: returns to the queue when the channel closes
            headers = {k: v for k, v in info["headers"].items() if not k.startswith("x-ocop-")}
            headers["x-ocop-redriven"] = int(info["headers"].get("x-ocop-redriven", 0)) + 1
            producer.publish(msg.body, exchange="", routing_key=to_queue, serializer=None,
                             content_type=msg.content_type or "application/json", content_encoding="utf-8",
                             delivery_mode=2, headers=headers, message_id=info["message_id"], type=info["type"],
                             retry=True, retry_policy={"max_retries": 3})
            msg.ack()
            moved += 1
    finally:
        channel.close()
    return moved
