"""Notifications tables: recipients (from registry events) with their channel opt-outs, invitations
as producers see them, deliveries (one row per message and channel) with their log, short links
for SMS, answers, and webhook subscriptions with their own delivery log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit import define_model as define_audit_log
from shared.bus.outbox import define_models
from shared.db import make_base, new_id
from shared.db import utcnow as now
from shared.revocation import define_model as define_revoked_tokens

Base = make_base()
Outbox, Inbox = define_models(Base)
RevokedToken = define_revoked_tokens(Base)  # the deny list of API tokens (shared.revocation)
AuditEntry = define_audit_log(Base)  # who did what (shared.audit; GET /audit)


class Recipient(Base):
    __tablename__ = "recipients"
    producer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(5), default="vi")
    consent_email: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    source_version: Mapped[int] = mapped_column(Integer)
    # The producer's own choice, kept here (registry updates carry consent, never these).
    opt_out_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    opt_out_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class InvitationView(Base):
    """Invitations as their producers know them, copied from invitation and fair events: what the
    answer page shows, who hears of a fair's change, which reminders are due.
    Status: issued (open) -> accepted, declined, refused (an answer the events service could not
    apply), withdrawn, expired."""

    __tablename__ = "invitation_views"
    __table_args__ = (
        Index("ix_invitation_views_fair_status", "fair_id", "status"),
        Index("ix_invitation_views_status_deadline", "status", "deadline"),
    )
    invitation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    fair_id: Mapped[str | None] = mapped_column(String(36))
    fair: Mapped[dict] = mapped_column(JSON)
    fair_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of the last fair event applied
    products: Mapped[list] = mapped_column(JSON)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="issued")
    verdict: Mapped[str | None] = mapped_column(String(500))
    booth: Mapped[int | None] = mapped_column(Integer)
    booths: Mapped[list | None] = mapped_column(JSON)
    withdrawn_cause: Mapped[str | None] = mapped_column(String(30))  # domain.withdrawal_cause


class Promotion(Base):
    """A waitlisted invitation moved up (events.waitlist.promoted): the offer that follows
    (events.invitation.issued) is worded for it."""

    __tablename__ = "promotions"
    invitation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer_id: Mapped[str] = mapped_column(String(36))
    fair_id: Mapped[str] = mapped_column(String(36))
    cause: Mapped[str] = mapped_column(String(20))
    rank: Mapped[int] = mapped_column(Integer)
    promoted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Delivery(Base):
    """One message to one producer on one channel (email, sms; "none" records a producer with no
    usable channel). Status: queued -> sending (claimed, in the provider's hands) -> sent, or
    failed (a retry is due at next_attempt_at) -> ... -> parked (attempts used up or refused for
    good: visible, re-driven by hand); undeliverable (no usable channel); cancelled (no longer
    true when its turn came, e.g. a reminder for an invitation answered since)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("cause_event_id", "channel", "producer_id"),
        Index("ix_deliveries_due", "channel", "status", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    cause_event_id: Mapped[str] = mapped_column(String(36))
    cause_event_type: Mapped[str | None] = mapped_column(String(120))
    ref_id: Mapped[str | None] = mapped_column(String(36), index=True)  # e.g. the invitation
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(60))
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list | None] = mapped_column(JSON)  # [{filename, content_type, content}]
    sms_encoding: Mapped[str | None] = mapped_column(String(10))
    sms_segments: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "sending": a sender committed its claim; until this moment passes no other sender takes it
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # committed just before the message goes to the provider: a claim that ran out with this set is
    # in doubt (the provider may have it), without it the message never left (delivery_queue.claim)
    handed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ShortLink(Base):
    """A short code standing for a signed answer link, so an SMS carries a short URL
    (/r/s/<code>); the code is random (72 bits) and leads to the same signed link."""

    __tablename__ = "short_links"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    invitation_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Answer(Base):
    """One answer per invitation: a signed link can be used once."""

    __tablename__ = "answers"
    invitation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer_id: Mapped[str] = mapped_column(String(36))
    answer: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(1000))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class WebhookSubscription(Base):
    """An integrating service's endpoint for some event types; each message is signed with the
    subscription's secret (HMAC-SHA256 over timestamp and body). ``owner``: the identity that made
    it ("<role>:<token sub>"), the only one besides an admin that sees or changes it; "legacy" for
    those made before owners were kept (admins only)."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class WebhookDelivery(Base):
    """One event to one subscription: queued -> sent, or failed (retry due) -> ... -> parked."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    response_status: Mapped[int | None] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
