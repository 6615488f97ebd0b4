"""Reads of the notifications service: the delivery log, unreachable producers, how a recipient is
reached, an invitation as its producer knows it, a short link's target. Nothing here changes a
row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import NotFound

from . import domain
from .models import Delivery, InvitationView, Recipient, ShortLink
from .recipients import channel_problems

DELIVERY_FILTERS = ("producer_id", "status", "channel", "ref_id")


def deliveries(session: Session, filters: dict, limit: int = 500) -> list[Delivery]:
    """The delivery log, newest first, by any of DELIVERY_FILTERS."""
    q = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit)
    for name in DELIVERY_FILTERS:
        if name in filters:
            q = q.where(getattr(Delivery, name) == filters[name])
    return list(session.scalars(q))


def unreachable(session: Session, adapters: dict, since=None, limit: int = 5000) -> list[dict]:
    """Producers a message could not reach (no usable channel): per producer, why now, and the
    undeliverable messages, oldest first."""
    q = select(Delivery).where(Delivery.status == "undeliverable").order_by(Delivery.created_at)
    if since is not None:
        q = q.where(Delivery.created_at >= since)
    out: dict[str, dict] = {}
    for d in session.scalars(q.limit(limit)):
        entry = out.get(d.producer_id)
        if entry is None:
            row = session.get(Recipient, d.producer_id)
            entry = out[d.producer_id] = {
                "producer_id": d.producer_id,
                "name": row.name if row else None,
                "messages": [],
                "problems": channel_problems(row, adapters) if row else {},
            }
        entry["messages"].append(
            {
                "delivery_id": d.id,
                "template": d.template,
                "cause_event_id": d.cause_event_id,
                "ref_id": d.ref_id,
                "reasons": d.last_error,
                "created_at": d.created_at,
            }
        )
    return list(out.values())


def _one(session: Session, model, key: str, missing: str, field: str):
    """The ``model`` row of primary key ``key``, or NotFound naming ``field``."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(missing, field=field)
    return row


def get_recipient(session: Session, producer_id: str) -> Recipient:
    return _one(
        session,
        Recipient,
        producer_id,
        "no such recipient (the registry has not announced this producer)",
        "producer_id",
    )


def reachability(row: Recipient, adapters: dict) -> dict:
    """How a producer is reached: per channel, the masked contact, consent, opt-out, usable or why not."""
    problems = channel_problems(row, adapters)
    contacts = {"email": domain.mask_email(row.email), "sms": domain.mask_phone(domain.mobile_number(row.phone))}
    return {
        "producer_id": row.producer_id,
        "name": row.name,
        "language": row.language,
        "channels": {
            c: {
                "contact": contacts[c],
                "consent": getattr(row, f"consent_{c}"),
                "opted_out": getattr(row, f"opt_out_{c}"),
                "usable": problems[c] is None,
                "problem": problems[c],
            }
            for c in domain.PRODUCER_CHANNELS
        },
    }


def get_view(session: Session, invitation_id: str) -> InvitationView:
    return _one(session, InvitationView, invitation_id, "no such invitation", "invitation_id")


def resolve_short_link(session: Session, code: str) -> str:
    """The signed answer link a short link (an SMS's) stands for."""
    return _one(session, ShortLink, code, "no such link", "code").token
