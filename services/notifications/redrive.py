"""Re-drive: a parked delivery (a message's or a webhook's) goes back to the queue, its attempts
counting again from zero. Flush, never commit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shared.errors import Conflict, NotFound

from .models import Delivery, WebhookDelivery

_NAMES = {Delivery: "delivery", WebhookDelivery: "webhook delivery"}


def redrive(
    session: Session,
    model: type[Delivery] | type[WebhookDelivery],
    delivery_id: str,
    subscription_id: str | None = None,
) -> Delivery | WebhookDelivery:
    """Queue the parked ``model`` row ``delivery_id`` again (a webhook delivery: of
    ``subscription_id``); 404 naming ``delivery_id`` if there is none, 409 naming ``status`` if it
    is not parked."""
    row = session.get(model, delivery_id, with_for_update=True)
    if row is None or (subscription_id is not None and row.subscription_id != subscription_id):
        raise NotFound(f"no such {_NAMES[model]}", field="delivery_id")
    if row.status != "parked":
        raise Conflict(f"only a parked delivery can be re-driven (this one is {row.status})", field="status")
    row.status, row.attempts, row.next_attempt_at = "queued", 0, datetime.now(UTC)
    session.flush()
    return row
