"""The service's emitter: the runtime's (an event's outbox row in the caller's transaction), plus
the webhook deliveries of this service's own events in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .webhooks import active_subscriptions, fan_out


class FanOutEmitter:
    """The runtime's emitter, plus webhook deliveries for this service's own events, in the same
    transaction as the outbox row. ``snapshot()`` makes it use the subscriptions read then until the
    next snapshot (a sender reads them once a batch instead of once a message).

    ``row``, ``insert`` and ``table`` are the runtime emitter's (shared.bus.outbox.Emitter): an
    event's outbox row, inserted on a connection without the ORM, and the outbox table. They fan
    nothing out: their caller does when ``follows`` says a webhook wants the event."""

    def __init__(self, emit):
        self.emit = emit
        self.subscriptions = None

    def snapshot(self, session: Session) -> None:
        self.subscriptions = active_subscriptions(session)

    def follows(self, type_: str) -> bool:
        """Whether a webhook (in the snapshot) follows this type; True when there is no snapshot."""
        return self.subscriptions is None or any(type_ in types for _, types in self.subscriptions)

    def __call__(
        self, session: Session, type_: str, subject: str, subject_version: int, data: dict, version: int = 1
    ) -> dict:
        envelope = self.emit(session, type_, subject, subject_version, data, version=version)
        if self.follows(type_):
            fan_out(session, envelope, self.subscriptions)
        return envelope

    def row(self, type_: str, subject: str, subject_version: int, data: dict, version: int = 1) -> dict:
        return self.emit.row(type_, subject, subject_version, data, version)

    def insert(self, conn, type_: str, subject: str, subject_version: int, data: dict, version: int = 1) -> dict:
        return self.emit.insert(conn, type_, subject, subject_version, data, version)

    @property
    def table(self):
        return self.emit.table
