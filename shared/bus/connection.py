"""Broker connections from one URL: ``amqp://...`` (RabbitMQ) or ``embedded:///path`` (SQLite)."""

from __future__ import annotations

from kombu import Connection

from . import durable


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://", "pyamqp://"))


def connect(url: str, heartbeat: int = 30) -> Connection:
    """A new, not yet connected, kombu connection. Connections are thread-confined: make one
    per thread (and per gunicorn worker, lazily), never share one across threads."""
    if url.startswith("embedded://"):
        path = url[len("embedded://") :]
        return Connection(transport=durable.Transport, transport_options={"path": path})
    return Connection(
        url,
        connect_timeout=5,
        heartbeat=heartbeat,
        transport_options={"max_retries": 3, "interval_start": 0.5, "interval_step": 1, "interval_max": 5},
    )
