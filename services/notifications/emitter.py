"""The service's emitter: the runtime's (an event's outbox row in the caller's transaction), plus
the webhook deliveries of this service's own events in the same transaction; and the outbox row
of an event for the senders' hot path (delivery_queue.record_sent)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shared import context

from .webhooks import active_subscriptions, fan_out


class FanOutEmitter:
    """The runtime's emitter, plus webhook deliveries for this service's own events, in the same
    transaction as the outbox row. ``snapshot()`` makes it use the subscriptions read then until the
    next snapshot (a sender reads them once a batch instead of once a message).

    ``outbox_table`` / ``outbox_insert``: the service's outbox table and an INSERT of rows made by
    ``outbox_values`` (for statements that write the outbox without the ORM)."""

    def __init__(self, emit):
        self.emit = emit
        self.subscriptions = None
        self._schemas: dict = {}  # one instance's (a sender's thread's): contract schemas made once
        model = getattr(emit, "model", None)
        self.outbox_table = model.__table__ if model is not None else None
        self.outbox_insert = self.outbox_table.insert() if model is not None else None

    def snapshot(self, session: Session) -> None:
        self.subscriptions = active_subscriptions(session)

    def follows(self, type_: str) -> bool:
        """Whether a webhook (in the snapshot) follows this type; True when there is no snapshot."""
        return self.subscriptions is None or any(type_ in types for _, types in self.subscriptions)

    def __call__(self, session: Session, type_: str, subject: str, subject_version: int, data: dict,
                 version: int = 1) -> dict:
        envelope = self.emit(session, type_, subject, subject_version, data, version=version)
        if self.follows(type_):
            fan_out(session, envelope, self.subscriptions)
        return envelope

    def outbox_values(self, type_: str, subject: str, subject_version: int, data: dict, version: int = 1) -> dict:
        """The outbox row of an event (its envelope checked against the contract), as the runtime's
        Emitter writes it, with the contract's schema made once instead of per event (a sender
        emits one event per message)."""
        from shared.contracts import ContractError, contract_for

        schema = self._schemas.get((type_, version))
        if schema is None:
            schema = self._schemas[(type_, version)] = contract_for(type_, version).schema()
        wire = schema.dump(data)
        errors = schema.validate(wire)
        if errors:
            raise ContractError(f"outgoing {type_} v{version} violates its contract", errors)
        event_id = str(uuid.uuid4())
        envelope = {"id": event_id, "type": type_, "version": version, "occurred_at": datetime.now(UTC).isoformat(),
                    "source": self.emit.service, "subject": str(subject), "subject_version": int(subject_version),
                    "correlation_id": context.correlation_id.get() or event_id,
                    "causation_id": context.causation_id.get(), "data": wire}
        return {"id": event_id, "exchange": self.emit.exchange, "routing_key": type_, "type": type_,
                "correlation_id": envelope["correlation_id"], "payload": json.dumps(envelope, ensure_ascii=False),
                "created_at": datetime.now(UTC), "sent_at": None}
