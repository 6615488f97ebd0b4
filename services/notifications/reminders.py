"""Reminders before an invitation's deadline: queued for unanswered invitations when due
(domain.reminder_due, ``Settings.reminder_days`` before the deadline), once whichever worker
sweeps; and, when its turn to be sent comes, cancelled if no longer true. Flush, emit, never
commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import among

from . import domain
from .models import Answer, Delivery, InvitationView, Recipient
from .reactions import FIELDS, answer_links, queue_message
from .views import aware

REMINDER_NAMESPACE = uuid.UUID("6b8f2d4e-3c1a-5e7b-9d0f-2a4c6e8b0d13")
REMINDER_TYPE = "notifications.reminder"  # the cause of a reminder's deliveries (no event: the clock)


def reminder_offsets(settings) -> tuple[int, ...]:
    """Days before the deadline (``OCOP_REMINDER_DAYS``, read into ``Settings.reminder_days``;
    default 3 and 1). A wrong value raises ValueError naming the variable."""
    return domain.parse_offsets(settings.reminder_days)


def reminder_id(invitation_id: str, days: int) -> str:
    """The same for every worker and every run: the deliveries' unique (cause, channel, producer)
    makes each reminder once, even when two workers queue it at the same moment."""
    return str(uuid.uuid5(REMINDER_NAMESPACE, f"{invitation_id}:{days}"))


def _unanswered(session: Session, now: datetime, within_days: int) -> list[InvitationView]:
    """Open invitations, not answered through their link, whose deadline is near."""
    q = (
        select(InvitationView)
        .outerjoin(Answer, Answer.invitation_id == InvitationView.invitation_id)
        .where(
            InvitationView.status == "issued",
            Answer.invitation_id.is_(None),
            InvitationView.deadline > now,
            InvitationView.deadline <= now + timedelta(days=within_days),
        )
        .order_by(InvitationView.deadline, InvitationView.invitation_id)
    )
    return list(session.scalars(q))


def queue_reminders(
    session: Session,
    emit,
    settings,
    adapters: dict,
    now: datetime | None = None,
    offsets: tuple[int, ...] | None = None,
) -> int:
    """Queue the reminders due now (domain.reminder_due) for unanswered invitations; returns how
    many were queued. Idempotent: a reminder queued once (by any worker) is not queued again."""
    now = now or datetime.now(UTC)
    offsets = reminder_offsets(settings) if offsets is None else offsets
    if not offsets:
        return 0
    due = []
    for view in _unanswered(session, now, max(offsets)):
        days = domain.reminder_due(
            aware(view.deadline), aware(view.issued_at) if view.issued_at else None, now, offsets
        )
        if days is not None:
            due.append((view, days, reminder_id(view.invitation_id, days)))
    queued_before = set(
        session.scalars(
            select(Delivery.cause_event_id).where(among(session, Delivery.cause_event_id, [cause for *_, cause in due]))
        )
    )
    count = 0
    for view, days, cause in due:
        if cause not in queued_before and _queue_reminder(session, emit, settings, adapters, view, days, cause):
            count += 1
    return count


def _queue_reminder(
    session: Session, emit, settings, adapters: dict, view: InvitationView, days: int, cause: str
) -> bool:
    recipient = session.get(Recipient, view.producer_id)
    if recipient is None:
        return False
    data = {
        "invitation_id": view.invitation_id,
        "fair": view.fair,
        "products": view.products,
        "deadline": aware(view.deadline),
    }
    envelope = {"id": cause, "type": REMINDER_TYPE}
    try:
        with session.begin_nested():
            known = {
                "recipient_name": recipient.name,
                "days_left": days,
                **answer_links(session, settings, view.invitation_id, view.producer_id, view.deadline),
            }
            queue_message(
                session,
                emit,
                envelope,
                domain.MESSAGES["reminder"],
                recipient,
                FIELDS["reminder"](data, known),
                settings,
                adapters,
            )
    except IntegrityError:  # another worker queued it at the same moment
        return False
    return True


def _still_open(session: Session, delivery) -> str | None:
    """Why a reminder is no longer true when its turn comes (None: send it)."""
    view = session.get(InvitationView, delivery.ref_id)
    if view is None or view.status != "issued":
        return f"the invitation is {view.status if view else 'unknown'}"
    if session.get(Answer, delivery.ref_id) is not None:
        return "the producer has answered"
    if aware(view.deadline) <= datetime.now(UTC):
        return "the deadline has passed"
    return None


# template -> why a queued message should no longer go out (None: it should)
STILL_TRUE = {"reminder": _still_open}
