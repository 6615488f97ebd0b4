"""State changes of the notifications service. Flush, emit into the outbox, never commit."""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict, NotFound

from . import links, rendering
from .models import Answer, Delivery, InvitationView, Recipient

log = logging.getLogger("ocop.notifications")
MAX_SEND_ATTEMPTS = 6


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def upsert_recipient(session: Session, envelope: dict, data: dict) -> None:
    row = session.get(Recipient, data["producer_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return
    if row is None:
        row = Recipient(producer_id=data["producer_id"])
        session.add(row)
    row.name = data["name"]
    row.email = data.get("email")
    row.phone = data.get("phone")
    row.language = data.get("preferred_language") or "vi"
    row.consent_email = data["consent"]["email"]
    row.consent_sms = data["consent"]["sms"]
    row.source_version = envelope["subject_version"]
    session.flush()


class RecipientUnknown(Exception):
    """Transient: the producer's registry event has not arrived yet (retried, then parked)."""


def queue_invitation(session: Session, envelope: dict, data: dict, secret: str, public_url: str) -> Delivery:
    view = session.get(InvitationView, data["invitation_id"])
    if view is None:
        view = InvitationView(invitation_id=data["invitation_id"], producer_id=data["producer_id"])
        session.add(view)
    view.fair, view.products, view.deadline, view.status = _jsonable(data["fair"]), data["products"], data["deadline"], "issued"
    recipient = session.get(Recipient, data["producer_id"])
    if recipient is None:
        raise RecipientUnknown(f"no recipient record for producer {data['producer_id']} yet")
    token = links.make_token(secret, data["invitation_id"], data["producer_id"], data["deadline"])
    subject, text, html = rendering.render_message(
        "invitation", recipient.language, recipient=recipient, fair=view.fair, products=data["products"],
        deadline=data["deadline"], link=f"{public_url}/r/{token}")
    usable = bool(recipient.email and recipient.consent_email)
    delivery = Delivery(cause_event_id=envelope["id"], channel="email", template="invitation",
                        producer_id=recipient.producer_id, language=recipient.language, subject=subject,
                        body_text=text, body_html=html, status="queued" if usable else "undeliverable",
                        last_error=None if usable else "no usable channel (no email or no consent)")
    session.add(delivery)
    session.flush()
    return delivery


def _jsonable(d: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}


def apply_verdict(session: Session, envelope: dict, data: dict) -> None:
    view = session.get(InvitationView, data["invitation_id"])
    if view is None:
        return
    kind = envelope["type"].rsplit(".", 1)[-1]
    view.status = {"accepted": "accepted", "declined": "declined", "answer_refused": "refused"}[kind]
    view.booth = data.get("booth")
    view.verdict = data.get("reason")
    session.flush()


def get_view(session: Session, invitation_id: str) -> InvitationView:
    view = session.get(InvitationView, invitation_id)
    if view is None:
        raise NotFound("no such invitation", field="invitation_id")
    return view


def record_answer(session: Session, emit, claims: dict, answer: str, note: str | None) -> Answer:
    """Once per invitation: a second use of the link is a Conflict."""
    row = Answer(invitation_id=claims["inv"], producer_id=claims["prod"], answer=answer, note=note,
                 answered_at=datetime.now(UTC))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("this invitation has already been answered", field="invitation_id") from exc
    emit(session, "notifications.invitation.answered", row.invitation_id, 1,
         {"invitation_id": row.invitation_id, "producer_id": row.producer_id, "answer": answer, "note": note,
          "answered_at": row.answered_at})
    return row


# ---- sending ----------------------------------------------------------------------------------
def due_deliveries(session: Session, limit: int = 20) -> list[Delivery]:
    q = (select(Delivery).where(Delivery.status == "queued", Delivery.next_attempt_at <= datetime.now(UTC))
         .order_by(Delivery.created_at).limit(limit).with_for_update(skip_locked=True))
    return list(session.scalars(q))


def build_email(delivery: Delivery, to_name: str, to_addr: str, mail_from: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = delivery.subject
    msg["From"] = mail_from
    msg["To"] = formataddr((to_name, to_addr))
    # A stable Message-ID: a resend after a crash between SMTP accept and commit is recognisable.
    # (Derived from the delivery id alone: email.utils.make_msgid adds time, pid and a random part.)
    msg["Message-ID"] = f"<{delivery.id}@ocop.local>"
    msg["X-OCOP-Delivery"] = delivery.id
    msg.set_content(delivery.body_text)
    if delivery.body_html:
        msg.add_alternative(delivery.body_html, subtype="html")
    return msg


def send_one(session: Session, emit, delivery: Delivery, smtp_host: str, smtp_port: int, mail_from: str) -> None:
    recipient = session.get(Recipient, delivery.producer_id)
    delivery.attempts += 1
    try:
        with smtplib.SMTP(smtp_host, smtp_port, timeout=10) as smtp:
            smtp.send_message(build_email(delivery, recipient.name, recipient.email, mail_from))
    except (smtplib.SMTPException, OSError) as exc:
        delivery.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
        if delivery.attempts >= MAX_SEND_ATTEMPTS:
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=min(2 ** delivery.attempts, 300))
        log.warning("email delivery failed", extra={"delivery_id": delivery.id, "attempt": delivery.attempts})
        session.flush()
        return
    delivery.status, delivery.sent_at, delivery.last_error = "sent", datetime.now(UTC), None
    session.flush()
    emit(session, "notifications.delivery.sent", delivery.id, delivery.attempts,
         {"delivery_id": delivery.id, "channel": delivery.channel, "template": delivery.template,
          "producer_id": delivery.producer_id, "cause_event_id": delivery.cause_event_id})
