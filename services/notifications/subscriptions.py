"""Webhook subscriptions: each belongs to the identity that made it (its owner), the only one
besides an admin that can list, read, change, re-key or delete it, read its delivery log or
re-drive a delivery; to anyone else it does not exist (404, so ids cannot be probed). Its URL must
be within the target policy (webhook_targets) when it is made or changed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.errors import Invalid, NotFound

from . import webhook_targets
from .models import WebhookDelivery, WebhookSubscription
from .redrive import redrive
from .webhooks import subscribable_types

ADMIN = None  # what an admin's ``owner`` argument is: every subscription


def principal_name(claims: dict) -> str:
    """Who a token is, as a subscription's owner: "<role>:<sub>" ("-" for a token without a subject)."""
    return f"{claims.get('role')}:{claims.get('sub') or '-'}"[:100]


def owner_of(claims: dict) -> str | None:
    """Whose subscriptions a token sees: its own (``principal_name``), or every one (ADMIN) for an admin."""
    return ADMIN if claims.get("role") == "admin" else principal_name(claims)


def _check_event_types(event_types: list[str]) -> list[str]:
    allowed = set(subscribable_types())
    unknown = [t for t in event_types if t not in allowed]
    if unknown:
        raise Invalid(
            f"not an event type a webhook can follow: {', '.join(unknown)}; one of {', '.join(sorted(allowed))}",
            field="event_types",
        )
    return sorted(set(event_types))


def _check_url(url: str, policy: webhook_targets.TargetPolicy, resolve) -> str:
    try:
        webhook_targets.check_url(url, policy, resolve)
    except webhook_targets.TargetRefused as exc:
        raise Invalid(f"not an allowed webhook target: {exc}", field="url") from None
    return url


def list_subscriptions(session: Session, owner: str | None) -> list[WebhookSubscription]:
    q = select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    if owner is not ADMIN:
        q = q.where(WebhookSubscription.owner == owner)
    return list(session.scalars(q))


def create_subscription(
    session: Session, body: dict, owner: str, policy: webhook_targets.TargetPolicy, resolve=webhook_targets.resolve_host
) -> WebhookSubscription:
    row = WebhookSubscription(
        url=_check_url(body["url"], policy, resolve),
        event_types=_check_event_types(body["event_types"]),
        secret=body.get("secret") or secrets.token_urlsafe(32),
        description=body.get("description"),
        active=body.get("active", True),
        owner=owner,
        created_by=owner,
    )
    session.add(row)
    session.flush()
    return row


def get_subscription(
    session: Session, subscription_id: str, owner: str | None, lock: bool = False
) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id, with_for_update=lock)
    if row is None or (owner is not ADMIN and row.owner != owner):
        raise NotFound("no such webhook subscription", field="subscription_id")
    return row


def update_subscription(
    session: Session,
    subscription_id: str,
    body: dict,
    owner: str | None,
    policy: webhook_targets.TargetPolicy,
    resolve=webhook_targets.resolve_host,
) -> WebhookSubscription:
    row = get_subscription(session, subscription_id, owner, lock=True)
    if "url" in body:
        row.url = _check_url(body["url"], policy, resolve)
    if "event_types" in body:
        row.event_types = _check_event_types(body["event_types"])
    for name in ("description", "active"):
        if name in body:
            setattr(row, name, body[name])
    if body.get("secret"):
        row.secret = body["secret"]
    elif body.get("rotate_secret"):
        row.secret = secrets.token_urlsafe(32)
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row


def delete_subscription(session: Session, subscription_id: str, owner: str | None) -> None:
    row = get_subscription(session, subscription_id, owner, lock=True)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == row.id))
    session.delete(row)
    session.flush()


def delivery_log(
    session: Session, subscription_id: str, owner: str | None, status: str | None = None
) -> list[WebhookDelivery]:
    get_subscription(session, subscription_id, owner)
    q = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(500)
    )
    if status is not None:
        q = q.where(WebhookDelivery.status == status)
    return list(session.scalars(q))


def redrive_webhook(session: Session, subscription_id: str, delivery_id: str, owner: str | None) -> WebhookDelivery:
    """A parked delivery of one of the owner's subscriptions queued again (redrive.redrive)."""
    get_subscription(session, subscription_id, owner)
    return redrive(session, WebhookDelivery, delivery_id, subscription_id)
