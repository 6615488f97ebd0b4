"""This service's own record of each invitation as its producer knows it (``InvitationView``,
``Promotion``), kept by the events it receives: the answer page, reminders and later messages
read it. Flush, never commit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import domain, fields
from .models import InvitationView, Promotion


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def as_datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def jsonable(d: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}


def view_dict(view: InvitationView) -> dict:
    return {
        "invitation_id": view.invitation_id,
        "producer_id": view.producer_id,
        "fair": view.fair,
        "products": view.products,
        "deadline": aware(view.deadline),
        "status": view.status,
        "booths": view.booths or ([view.booth] if view.booth else []),
    }


def record_issued(session: Session, envelope: dict, data: dict) -> None:
    view = session.get(InvitationView, data["invitation_id"], with_for_update=True)
    if view is None:
        view = InvitationView(
            invitation_id=data["invitation_id"], producer_id=data["producer_id"], status="issued", fair_version=0
        )
        session.add(view)
    elif view.status != "issued":
        return  # answered, withdrawn or expired already (events seen out of order): keep that
    view.fair_id, view.fair, view.products = data["fair"]["fair_id"], jsonable(data["fair"]), data["products"]
    view.deadline, view.issued_at = as_datetime(data["deadline"]), envelope["occurred_at"]
    session.flush()


def issued_row(envelope: dict, data: dict) -> dict:
    """The InvitationView row a first events.invitation.issued makes (``record_issued`` in bulk)."""
    return {
        "invitation_id": data["invitation_id"],
        "producer_id": data["producer_id"],
        "fair_id": data["fair"]["fair_id"],
        "fair": jsonable(data["fair"]),
        "fair_version": 0,
        "products": data["products"],
        "deadline": as_datetime(data["deadline"]),
        "issued_at": as_datetime(envelope["occurred_at"]),
        "status": "issued",
    }


def record_promotion(session: Session, envelope: dict, data: dict) -> None:
    if session.get(Promotion, data["invitation_id"]) is None:
        session.add(
            Promotion(
                invitation_id=data["invitation_id"],
                producer_id=data["producer_id"],
                fair_id=data["fair_id"],
                cause=data["cause"],
                rank=data["rank"],
                promoted_at=envelope["occurred_at"],
            )
        )
        session.flush()


def record_verdict(session: Session, envelope: dict, data: dict) -> None:
    """accepted / declined / answer_refused (an answer it could not apply), withdrawn, expired."""
    view = session.get(InvitationView, data["invitation_id"], with_for_update=True)
    if view is None:
        return
    kind = envelope["type"].rsplit(".", 1)[-1]
    if kind == "answer_refused":
        if view.status == "issued":  # "already accepted" must not undo the acceptance
            view.status, view.verdict = "refused", data.get("reason")
    elif kind == "withdrawn":
        view.status, view.verdict = "withdrawn", data["reason"][:500]
        view.withdrawn_cause = domain.withdrawal_of(data)[0]
    elif kind == "expired":
        if view.status == "issued":
            view.status = "expired"
    else:
        view.status = kind
        view.booth = data.get("booth")
        view.booths = data.get("booths") or ([view.booth] if view.booth else None)
    session.flush()


def record_fair(session: Session, envelope: dict, data: dict) -> None:
    """A fair's new state into the invitations of it (the answer page and later messages show it);
    a cancelled fair's open invitations are withdrawn by it."""
    views = session.scalars(
        select(InvitationView)
        .where(InvitationView.fair_id == data["fair_id"], InvitationView.fair_version < envelope["subject_version"])
        .with_for_update()
    )
    for view in views:
        view.fair = {**view.fair, **jsonable(fields.fair_summary(data))}
        view.fair_version = envelope["subject_version"]
        if envelope["type"] == "events.fair.cancelled" and view.status in domain.OPEN_STATUSES:
            view.status, view.withdrawn_cause = "withdrawn", "fair_cancelled"
            view.verdict = (data.get("reason") or "")[:500] or None
    session.flush()


# event type -> what it changes in this service's records (after its messages: see reactions.react)
RECORDS = {
    "events.invitation.issued": record_issued,
    "events.waitlist.promoted": record_promotion,
    "events.invitation.accepted": record_verdict,
    "events.invitation.declined": record_verdict,
    "events.invitation.answer_refused": record_verdict,
    "events.invitation.withdrawn": record_verdict,
    "events.invitation.expired": record_verdict,
    "events.fair.updated": record_fair,
    "events.fair.cancelled": record_fair,
}
