"""Registry tables (typed SQLAlchemy 2 models). Only the registry reads or writes them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
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


class Producer(Base):
    __tablename__ = "producers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    name_folded: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(500))
    province: Mapped[str] = mapped_column(String(100), index=True)
    province_entered: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(50), index=True)
    representative: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    preferred_language: Mapped[str] = mapped_column(String(5), default="vi")
    consent: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    # Migration 7b1f0c6d2e4a: the producer filters answered from indexes, and the trigram index
    # of the search (PostgreSQL's pg_trgm; the migration makes it on PostgreSQL only).
    __table_args__ = (
        Index("ix_producers_province_id", "province", "id"),
        Index("ix_producers_region_kind_id", "region", "kind", "id"),
        Index(
            "ix_producers_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "gin_trgm_ops"},
        ),
    )


class Product(Base):
    __tablename__ = "products"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    producer_id: Mapped[str] = mapped_column(ForeignKey("producers.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    name_folded: Mapped[str] = mapped_column(String(300), index=True)
    name_en: Mapped[str | None] = mapped_column(String(300))
    group: Mapped[int] = mapped_column(Integer)
    subgroup: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    potential_five_star: Mapped[bool] = mapped_column(Boolean, default=False)
    # Designated a provincial key product (sản phẩm chủ lực cấp tỉnh) by the province: Decision 950/QĐ-BCT's
    # showcase points may admit it whatever its stars (migration 4c8e2f1a7d93).
    provincial_key_product: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The producer's province, region and kind, copied (kept in step by update_producer) so that the
    # list filters on them read the products alone (migration 3d5e9a7c1b20).
    province: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(50))
    producer_kind: Mapped[str] = mapped_column(String(30))
    # Bumped by every change to the product or its certifications: the subject_version of its events.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    __table_args__ = (
        Index("ix_products_created_at", "created_at"),
        Index("ix_products_producer_id_group", "producer_id", "group"),
        Index("ix_products_province_group", "province", "group"),
        Index("ix_products_region_producer_kind", "region", "producer_kind"),
        Index(
            "ix_products_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "gin_trgm_ops"},
        ),
    )


_CURRENT = text("status = 'current'")


class Decision(Base):
    """A decision (quyết định) of an authority: it certifies, re-certifies, upgrades or revokes
    many products at once. Identified by its authority, number and date (compared folded: the
    ``*_key`` columns). A revoke decision lists what it revoked (certifications.revocation_decision_id)
    with its reason code; the others the certifications they carry (certifications.decision_id).
    Migration 2b7e4c9d1f60 made one per (authority, number, date) of the certifications before it."""

    __tablename__ = "decisions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(100))
    decision_date: Mapped[date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(200))
    number_key: Mapped[str] = mapped_column(String(100))
    issued_by_key: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))  # commune, province, national
    kind: Mapped[str] = mapped_column(String(20))  # certify, recertify, upgrade, revoke
    criteria_version: Mapped[str | None] = mapped_column(String(40))
    reason_code: Mapped[str | None] = mapped_column(String(40))  # a revoke decision's
    reason: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    __table_args__ = (
        UniqueConstraint("issued_by_key", "number_key", "decision_date"),
        Index("ix_decisions_decision_date_id", "decision_date", "id"),
        Index("ix_decisions_kind_level", "kind", "level"),
    )


class Certification(Base):
    __tablename__ = "certifications"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    criteria_version: Mapped[str] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    score_parts: Mapped[dict | None] = mapped_column(JSON)
    stars: Mapped[int] = mapped_column(Integer, index=True)
    level: Mapped[str] = mapped_column(String(20))
    issued_by: Mapped[str] = mapped_column(String(200))
    decision_number: Mapped[str] = mapped_column(String(100))
    decision_date: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="current", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    # Revocation (thu hồi) by provincial decision.
    revoked_reason: Mapped[str | None] = mapped_column(String(500))
    revocation_decision_number: Mapped[str | None] = mapped_column(String(100))
    revocation_decision_date: Mapped[date | None] = mapped_column(Date)
    # The decision that carries it, and the revoke decision that ended it (migration 2b7e4c9d1f60).
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"), index=True)
    revocation_decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"), index=True)
    revocation_reason_code: Mapped[str | None] = mapped_column(String(40))
    # A provincial score in the 5★ band: 4★, and the province proposed the product for national evaluation.
    proposed_for_national: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set once the 30-day expiry notice was announced, so the daily sweep announces it once.
    expiring_announced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_certifications_current", "product_id", postgresql_where=_CURRENT, sqlite_where=_CURRENT),
        Index(
            "ix_certifications_current_stars",
            text("stars DESC"),
            "product_id",
            postgresql_where=_CURRENT,
            sqlite_where=_CURRENT,
        ),
        Index(
            "ix_certifications_current_valid_until",
            "valid_until",
            "product_id",
            postgresql_where=_CURRENT,
            sqlite_where=_CURRENT,
        ),
    )


class ImportRecord(Base):
    """One applied bulk import (imports.py): which file (by SHA-256), who, when and what it changed.
    A later import of the same file finds it here and says so; an import that changed nothing
    leaves no record."""

    __tablename__ = "imports"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(10))
    applied_by: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    rows: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict] = mapped_column(JSON)


class Account(Base):
    """A person who signs in to the console (accounts.py): an officer of a scope, or an administrator.
    The password is an Argon2id hash; failed sign-ins count towards a temporary lock-out."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # registry_officer, trade_officer, admin
    scope_id: Mapped[str] = mapped_column(String(100), default="")
    scope_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the password reset link's single use: a hash of the nonce the link carries (None: no link open)
    reset_nonce_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reset_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SignInFailure(Base):
    """A failed sign-in from an address (the per-address slow-down: accounts.py)."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


AuditEntry = define_audit_log(Base)  # who did what (shared.audit)
