"""Notifications tables: recipients (from registry events), invitations as producers see them,
deliveries with their log, and answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.bus.outbox import define_models
from shared.db import make_base, new_id
from shared.db import utcnow as now

Base = make_base()
Outbox, Inbox = define_models(Base)




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


class InvitationView(Base):
    """What a producer's answer page needs, copied from invitation events."""

    __tablename__ = "invitation_views"
    invitation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    fair: Mapped[dict] = mapped_column(JSON)
    products: Mapped[list] = mapped_column(JSON)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="issued")
    verdict: Mapped[str | None] = mapped_column(String(500))
    booth: Mapped[int | None] = mapped_column(Integer)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("cause_event_id", "channel"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    cause_event_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(60))
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued, sent, failed, undeliverable
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Answer(Base):
    """One answer per invitation: a signed link can be used once."""

    __tablename__ = "answers"
    invitation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer_id: Mapped[str] = mapped_column(String(36))
    answer: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(1000))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
