"""Events-service tables: the read model of certified products (built only from registry
events), fairs and invitations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
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


# ---- read model (built only from registry events) ------------------------------------------------
class ProducerView(Base):
    """Read model: producers as the registry last described them (registered/updated events)."""

    __tablename__ = "producers"
    producer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30))
    province: Mapped[str] = mapped_column(String(100))
    province_entered: Mapped[str | None] = mapped_column(String(100))  # a pre-2025 name where it keeps one
    region: Mapped[str] = mapped_column(String(50))  # its old province's where the name entered is one
    # Contacts as the registry last sent them (for the participants' export); never logged.
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    source_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class ProductView(Base):
    """Read model: every product the registry recorded, certified or not (product events). A fair
    that admits "potential OCOP" products matches those never certified from here."""

    __tablename__ = "products"
    product_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(300))
    group: Mapped[int] = mapped_column(Integer)
    subgroup: Mapped[str | None] = mapped_column(String(20))
    potential_five_star: Mapped[bool] = mapped_column(Boolean, default=False)
    # Designated a provincial key product by the province (product events; migration 6d1f3b8e2a57)
    provincial_key_product: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class CertifiedProduct(Base):
    """Read model: one row per certified product, upserted only by newer subject versions."""

    __tablename__ = "certified_products"
    product_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    product_name: Mapped[str] = mapped_column(String(300))
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    producer_name: Mapped[str] = mapped_column(String(300))
    producer_kind: Mapped[str] = mapped_column(String(30))
    group: Mapped[int] = mapped_column(Integer)
    province: Mapped[str] = mapped_column(String(100))
    province_entered: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(50))
    stars: Mapped[int] = mapped_column(Integer, index=True)
    certification_id: Mapped[str] = mapped_column(String(36))
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="current")
    subgroup: Mapped[str | None] = mapped_column(String(20))
    potential_five_star: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A copy of the products row's designation (only product events carry it): the certification
    # upsert reads it from there, a product event writes both (operations.apply_product).
    provincial_key_product: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class Fair(Base):
    __tablename__ = "fairs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30))
    organiser: Mapped[str] = mapped_column(String(300))
    organiser_kind: Mapped[str | None] = mapped_column(String(40))
    # Whom producers call or write to with questions about the fair (printed in every letter about it)
    organiser_contact: Mapped[str | None] = mapped_column(String(200))  # a person's name
    organiser_phone: Mapped[str | None] = mapped_column(String(20))
    organiser_email: Mapped[str | None] = mapped_column(String(254))
    host_province: Mapped[str] = mapped_column(String(100))
    host_province_entered: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(50))
    venue: Mapped[str] = mapped_column(String(300))
    venue_kind: Mapped[str | None] = mapped_column(String(30))  # domain.VENUE_KINDS (a showcase point's place)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    booths_assigned: Mapped[int] = mapped_column(Integer, default=0)
    invitation_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    response_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    subsidy_per_booth: Mapped[int] = mapped_column(Integer, default=0)
    budget: Mapped[int | None] = mapped_column(BigInteger)
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # The scope (department or organiser) of the account that created it: its officers see and change it
    # in the console (migration c4e1a7b93d20); null when created by an integration without a scope.
    owner_scope: Mapped[str | None] = mapped_column(String(100), index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(1000))
    # When it was first announced: a fair cancelled as a draft was never public (calendar feeds).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class Invitation(Base):
    """One producer's place in one fair: issued, waitlisted, accepted, declined, expired or withdrawn."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("fair_id", "producer_id"),
        Index("ix_invitations_status_deadline", "status", "deadline"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    fair_id: Mapped[str] = mapped_column(ForeignKey("fairs.id"), index=True)
    producer_id: Mapped[str] = mapped_column(String(36), index=True)
    products: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    group: Mapped[int | None] = mapped_column(Integer)  # the group its booths count against (best product's)
    booth_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    booths: Mapped[list | None] = mapped_column(JSON)  # booth numbers, once accepted
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column()
    score_parts: Mapped[dict] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    booth: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(1000))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
