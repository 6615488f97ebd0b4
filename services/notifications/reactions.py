"""Reactions to events: who gets which message on which channel (domain.REACTIONS), queued as one
delivery row per usable channel, and the event's mark on this service's records (views.RECORDS).
A fair's publication (many invitations at once) takes the batch path in offers.py. Flush, emit
into the outbox, never commit."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from shared.db import new_id

from . import domain, fields, links, rendering
from .models import Delivery, InvitationView, Promotion, Recipient, ShortLink
from .recipients import RecipientUnknown, channel_problems
from .views import RECORDS, as_datetime, aware, view_dict

log = logging.getLogger("ocop.notifications")
FIELDS = fields.FIELDS


def answer_links(session: Session, settings, invitation_id: str, producer_id: str, deadline) -> dict:
    """The signed answer link of an invitation and its short form (for SMS)."""
    secret = settings.key_material("answer-link")
    token = links.make_token(secret, invitation_id, producer_id, aware(as_datetime(deadline)))
    short = short_link(session, invitation_id, token)
    return {"link": f"{settings.public_base_url}/r/{token}", "short_link": f"{settings.public_base_url}/r/s/{short}"}


def short_link(session: Session, invitation_id: str, token: str) -> str:
    row = session.scalars(select(ShortLink).where(ShortLink.invitation_id == invitation_id)).first()
    if row is None:
        row = ShortLink(code=secrets.token_urlsafe(9), token=token, invitation_id=invitation_id)
        session.add(row)
    elif row.token != token:
        row.token = token
    session.flush()
    return row.code


def _view_of(session: Session, data: dict) -> InvitationView | None:
    view = session.get(InvitationView, data["invitation_id"])
    if view is None:  # never announced to the producer (e.g. still waitlisted): nothing to tell
        log.info("no invitation known to its producer; no message", extra={"invitation_id": data["invitation_id"]})
    return view


def _fair_view(session: Session, data: dict, producer_id: str) -> InvitationView | None:
    return session.scalars(
        select(InvitationView).where(
            InvitationView.fair_id == data["fair_id"], InvitationView.producer_id == producer_id
        )
    ).first()


# Per message: what the consumer knows beyond the event's data (the template's fields come from
# fields.FIELDS). None: nothing to send to this producer. A "message" key picks a variant.
def _offer_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict:
    promotion = session.get(Promotion, data["invitation_id"])
    return {
        "recipient_name": recipient.name,
        **answer_links(session, settings, data["invitation_id"], data["producer_id"], data["deadline"]),
        "promotion": {"cause": promotion.cause, "rank": promotion.rank} if promotion else None,
        "message": "promotion" if promotion else "invitation",
    }


def _invitation_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict | None:
    view = _view_of(session, data)
    if view is None:
        return None
    return {"recipient_name": recipient.name, "invitation": view_dict(view), "occurred_at": envelope["occurred_at"]}


def _withdrawn_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict | None:
    if domain.withdrawal_of(data)[0] == "fair_cancelled":
        return None  # events.fair.cancelled tells every producer of the fair, once
    if data["previous_status"] not in domain.OPEN_STATUSES:
        return None  # it was still waitlisted: the producer never heard of it
    return _invitation_known(session, envelope, data, recipient, settings)


def _fair_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict | None:
    view = _fair_view(session, data, recipient.producer_id)
    if view is None:
        return None
    if envelope["type"] == "events.fair.updated":
        if view.fair_version >= envelope["subject_version"]:
            return None  # a newer state of the fair was applied already: this change is old news
        if not domain.fair_changes(data["changed"], view.fair, data):
            return None  # capacity, rules, budget: nothing a producer needs to hear about
    known = {"recipient_name": recipient.name, "invitation": view_dict(view), "occurred_at": envelope["occurred_at"]}
    if view.status == "issued":
        known.update(answer_links(session, settings, view.invitation_id, view.producer_id, view.deadline))
    return known


def _certificate_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict:
    return {"recipient_name": recipient.name}


CONTEXTS = {
    "invitation": _offer_known,
    "withdrawn": _withdrawn_known,
    "fair_updated": _fair_known,
    "fair_cancelled": _fair_known,
    "accepted": _invitation_known,
    "declined": _invitation_known,
    "answer_refused": _invitation_known,
    "certificate_expiring": _certificate_known,
    "certificate_expired": _certificate_known,
}


def _producer_audience(session: Session, envelope: dict, data: dict) -> list[str]:
    return [data["producer_id"]]


def _fair_audience(session: Session, envelope: dict, data: dict) -> list[str]:
    """Producers with an open or accepted invitation to the fair (and, for its cancellation, those
    whose invitation the cancellation withdrew: their withdrawal may have arrived first)."""
    told = InvitationView.status.in_(domain.OPEN_STATUSES)
    if envelope["type"] == "events.fair.cancelled":
        told = or_(told, and_(InvitationView.status == "withdrawn", InvitationView.withdrawn_cause == "fair_cancelled"))
    q = select(InvitationView.producer_id).where(InvitationView.fair_id == data["fair_id"], told)
    return list(session.scalars(q.order_by(InvitationView.producer_id)))


# audience name -> the producers it names for an event
AUDIENCES = {"producer": _producer_audience, "fair": _fair_audience}


def react(session: Session, emit, envelope: dict, data: dict, settings, adapters: dict) -> list[Delivery]:
    """What an event calls for: the message of domain.REACTIONS, queued once per producer and
    channel, then the event's mark on this service's own records (RECORDS: after the messages,
    which read the state before the event, e.g. a fair's venue before it changed)."""
    out = []
    name = domain.REACTIONS.get(envelope["type"])
    if name is not None:
        kind = domain.MESSAGES[name]
        for producer_id in AUDIENCES[kind.audience](session, envelope, data):
            out += _message_for(session, emit, envelope, data, kind, producer_id, settings, adapters)
    record = RECORDS.get(envelope["type"])
    if record is not None:
        record(session, envelope, data)
    return out


def _message_for(
    session: Session,
    emit,
    envelope: dict,
    data: dict,
    kind: domain.MessageKind,
    producer_id: str,
    settings,
    adapters: dict,
) -> list[Delivery]:
    done = list(
        session.scalars(
            select(Delivery).where(Delivery.cause_event_id == envelope["id"], Delivery.producer_id == producer_id)
        )
    )
    if done:  # the inbox already drops a redelivered event; this holds even without it
        return done
    recipient = session.get(Recipient, producer_id)
    if recipient is None:
        raise RecipientUnknown(f"no recipient record for producer {producer_id} yet")
    known = CONTEXTS[kind.name](session, envelope, data, recipient, settings)
    if known is None:
        return []
    kind = domain.MESSAGES[known.pop("message", kind.name)]
    ctx = FIELDS[kind.name](data, known)
    if kind.topic and _told(session, kind.topic, ctx["ref_id"], producer_id):
        return []
    return queue_message(session, emit, envelope, kind, recipient, ctx, settings, adapters)


def _told(session: Session, topic: str, ref_id: str, producer_id: str) -> bool:
    """A message of this topic about this subject was queued for the producer already."""
    names = [m.name for m in domain.MESSAGES.values() if m.topic == topic]
    return (
        session.scalar(
            select(Delivery.id)
            .where(Delivery.ref_id == ref_id, Delivery.producer_id == producer_id, Delivery.template.in_(names))
            .limit(1)
        )
        is not None
    )


def queue_message(
    session: Session,
    emit,
    envelope: dict,
    kind: domain.MessageKind,
    recipient: Recipient,
    ctx: dict,
    settings,
    adapters: dict,
) -> list[Delivery]:
    """One delivery row per usable channel; none usable: one "undeliverable" row (channel "none")
    and a notifications.producer.unreachable event for the trade officers."""
    values, unreachable = message_rows(envelope, kind, recipient, ctx, settings, adapters)
    rows = [Delivery(**v) for v in values]
    session.add_all(rows)
    session.flush()
    if unreachable:
        tell_unreachable(session, emit, unreachable)
    return rows


def message_rows(
    envelope: dict, kind: domain.MessageKind, recipient: Recipient, ctx: dict, settings, adapters: dict
) -> tuple[list[dict], dict | None]:
    """The delivery rows a message makes (rendered for the usable channels only), and the data of
    notifications.producer.unreachable when no channel is usable."""
    problems = channel_problems(recipient, adapters)
    usable = [c for c, problem in problems.items() if problem is None]
    rendered = rendering.render(
        kind.name,
        recipient.language,
        ctx,
        sms_link=ctx.get("short_link") or "",
        sms_mode=settings.sms_mode,
        sms_max_segments=settings.sms_max_segments,
        calendar_uid=ctx.get("ref_id") or envelope["id"],
        email="email" in usable,
        sms="sms" in usable,
    )
    now = datetime.now(UTC)
    common = {
        "cause_event_id": envelope["id"],
        "cause_event_type": envelope["type"],
        "ref_id": ctx.get("ref_id"),
        "template": kind.name,
        "producer_id": recipient.producer_id,
        "language": rendered.language,
        "subject": rendered.subject,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "body_html": None,
        "attachments": None,
        "sms_encoding": None,
        "sms_segments": None,
        "last_error": None,
    }
    if not usable:
        row = {
            **common,
            "id": new_id(),
            "channel": "none",
            "body_text": rendered.text,
            "status": "undeliverable",
            "last_error": "; ".join(f"{c}: {p}" for c, p in problems.items()),
        }
        return [row], {
            "producer_id": recipient.producer_id,
            "delivery_id": row["id"],
            "template": kind.name,
            "cause_event_id": envelope["id"],
            "cause_event_type": envelope["type"],
            "ref_id": ctx.get("ref_id"),
            "reasons": problems,
        }
    rows = []
    for channel in usable:
        row = {**common, "id": new_id(), "channel": channel, "status": "queued"}
        if channel == "email":
            row.update(
                body_text=rendered.text,
                body_html=rendered.html,
                attachments=[a.as_dict() for a in rendered.attachments] or None,
            )
        else:
            row.update(
                body_text=rendered.sms.text, sms_encoding=rendered.sms.encoding, sms_segments=rendered.sms.segments
            )
        rows.append(row)
    return rows, None


def tell_unreachable(session: Session, emit, data: dict) -> None:
    emit(session, "notifications.producer.unreachable", data["producer_id"], 1, data)
    log.info("producer unreachable", extra={"producer_id": data["producer_id"], "delivery_id": data["delivery_id"]})
