"""Webhook deliveries: which event types a subscription can follow, one delivery per following
subscription and event (the fan-out), and sending the due ones. The subscriptions themselves:
subscriptions.py. Flush, never commit."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import domain
from .channels import ChannelError
from .models import WebhookDelivery, WebhookSubscription

log = logging.getLogger("ocop.notifications")


def subscribable_types() -> list[str]:
    """Event types a webhook can follow: those this service receives (its queue's bindings) and
    those it publishes itself, except token revocations (the services' own deny list)."""
    from shared.bus.topology import queue_spec
    from shared.contracts import CONTRACTS
    from shared.revocation import EVENT_TYPE as TOKEN_REVOKED

    bindings = queue_spec("notifications.main").bindings
    return sorted(
        {
            c.type
            for c in CONTRACTS.values()
            if c.type != TOKEN_REVOKED
            and (c.source == "notifications" or any(domain.topic_matches(b, c.type) for b in bindings))
        }
    )


def _wire(envelope: dict) -> str:
    out = dict(envelope)
    if hasattr(out.get("occurred_at"), "isoformat"):
        out["occurred_at"] = out["occurred_at"].isoformat()
    return json.dumps(out, ensure_ascii=False)


def active_subscriptions(session: Session) -> list[tuple[str, list]]:
    """(id, event types) of the active webhook subscriptions."""
    return list(
        session.execute(
            select(WebhookSubscription.id, WebhookSubscription.event_types).where(WebhookSubscription.active.is_(True))
        ).all()
    )


def fan_out(session: Session, envelope: dict, subscriptions: list | None = None) -> int:
    """One webhook delivery per active subscription following the event's type (once per event).
    ``subscriptions``: ``active_subscriptions`` read already (for many events in a row)."""
    subs = [
        sid
        for sid, types in (active_subscriptions(session) if subscriptions is None else subscriptions)
        if envelope["type"] in types
    ]
    if not subs:
        return 0
    payload = _wire(envelope)
    seen = set(
        session.scalars(
            select(WebhookDelivery.subscription_id).where(
                WebhookDelivery.event_id == envelope["id"], WebhookDelivery.subscription_id.in_(subs)
            )
        )
    )
    for sid in subs:
        if sid not in seen:
            session.add(
                WebhookDelivery(
                    subscription_id=sid,
                    event_id=envelope["id"],
                    event_type=envelope["type"],
                    payload=payload,
                    status="queued",
                    attempts=0,
                )
            )
    session.flush()
    return len(subs) - len(seen)


def fan_out_many(session: Session, envelopes: list[dict]) -> int:
    subscriptions = active_subscriptions(session)
    return sum(fan_out(session, e, subscriptions) for e in envelopes) if subscriptions else 0


def due_webhook_deliveries(session: Session, limit: int = 1) -> list[WebhookDelivery]:
    q = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status.in_(("queued", "failed")),
            WebhookDelivery.next_attempt_at <= datetime.now(UTC),
            WebhookSubscription.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    return list(session.scalars(q))


def send_webhook(session: Session, delivery: WebhookDelivery, adapter, settings) -> str:
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    delivery.attempts += 1
    try:
        delivery.response_status = adapter.send(delivery, sub)
    except ChannelError as exc:
        delivery.response_status = exc.status
        delivery.last_error = str(exc)[:1000]
        if exc.permanent or delivery.attempts >= settings.channel_attempts.get("webhook", 8):
            delivery.status = "parked"
            log.error(
                "webhook delivery parked",
                extra={"webhook_delivery_id": delivery.id, "subscription_id": sub.id, "attempts": delivery.attempts},
            )
        else:
            delivery.status = "failed"
            delivery.next_attempt_at = domain.next_attempt_at(
                datetime.now(UTC),
                delivery.attempts,
                exc.retry_after,
                settings.retry_base_seconds,
                settings.retry_max_seconds,
            )
            log.warning(
                "webhook delivery failed; will retry",
                extra={"webhook_delivery_id": delivery.id, "attempt": delivery.attempts},
            )
        session.flush()
        return delivery.status
    delivery.status, delivery.sent_at, delivery.last_error = "sent", datetime.now(UTC), None
    session.flush()
    return delivery.status
