"""Per-request / per-message context: correlation and causation ids for logs and events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


@contextmanager
def caused_by(envelope: dict) -> Iterator[None]:
    """While handling a message: events emitted meanwhile carry its correlation id and it as their
    cause, and logs name them; both are put back on exit."""
    tokens = (correlation_id.set(envelope["correlation_id"]), causation_id.set(envelope["id"]))
    try:
        yield
    finally:
        correlation_id.reset(tokens[0])
        causation_id.reset(tokens[1])
