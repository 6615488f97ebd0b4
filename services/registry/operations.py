"""State changes of the registry. Each takes an open session, flushes, emits its events into
the outbox of the same transaction, and never commits: the caller's boundary does."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Conflict, Invalid
from shared.text import nfc

from . import decisions, domain
from .models import Certification, Producer, Product
from .producer_ops import CODE_MAX as CODE_MAX
from .producer_ops import FOLDED_MAX as FOLDED_MAX
from .producer_ops import _domain as _domain
from .producer_ops import _grouping as _grouping
from .producer_ops import _snapshot as _snapshot
from .producer_ops import _subgroup_code as _subgroup_code
from .producer_ops import current_certification as current_certification
from .producer_ops import folded as folded
from .producer_ops import producer_code as producer_code
from .producer_ops import producer_copy as producer_copy
from .producer_ops import producer_event as producer_event
from .producer_ops import producer_fields as producer_fields
from .producer_ops import product_event as product_event
from .producer_ops import product_fields as product_fields
from .producer_ops import register_producer as register_producer
from .producer_ops import register_product as register_product
from .producer_ops import update_producer as update_producer
from .producer_ops import update_product as update_product
from .queries import get_certification, get_product


def grant_certification(session: Session, emit, data: dict, today: date, actor: str = "system") -> Certification:
    """Record one certificate of a decision (found by authority, number and date, or recorded now)."""
    # Lock the product row: two concurrent grants for one product serialise here.
    product = get_product(session, data["product_id"], lock=True)
    found = decisions.find(session, data["issued_by"], data["decision_number"], data["decision_date"])
    level = data.get("level") or (found.level if found is not None else "province")
    fields = certification_fields({**data, "level": level}, today)
    current = current_certification(session, product.id)
    check_replaces(fields, current.stars if current is not None else None)
    decision = decisions.attach(session, decision_spec(fields), actor)
    if current is not None:
        # A re-certification or an upgrade replaces the current certification: one current at a time.
        current.status = "superseded"
    cert = Certification(product_id=product.id, decision_id=decision.id, **fields)
    session.add(cert)
    flagged = product.potential_five_star
    product.potential_five_star = domain.potential_after(flagged, cert.stars, cert.proposed_for_national)
    product.version += 1
    session.flush()
    producer = session.get(Producer, product.producer_id)
    emit(
        session,
        CERTIFICATION_EVENT[cert.kind],
        product.id,
        product.version,
        certification_event(
            cert, product, producer, replaces=current.id if current is not None else None, decision=decision
        ),
    )
    if product.potential_five_star != flagged:  # the product's own state changed too: its read models follow
        product.version += 1
        session.flush()
        emit(session, "registry.product.updated", product.id, product.version, product_event(product))
    return cert


def decision_spec(fields: dict) -> dict:
    """The decision a certificate's columns name."""
    return {
        "issued_by": fields["issued_by"],
        "number": fields["decision_number"],
        "decision_date": fields["decision_date"],
        "kind": domain.DECISION_KIND_OF[fields["kind"]],
        "level": fields["level"],
        "criteria_version": fields["criteria_version"],
    }


def certification_fields(data: dict, today: date) -> dict:
    """A certification's columns from input loaded by CertificationIn: decision date not in the
    future, the criteria version of that date, stars derived from the score and the decision's
    level (only the national level certifies 5★; a provincial 90+ is 4★ proposed for national
    evaluation; a claim must agree), score parts within that version's maxima, 36 months of
    validity. Shared by the API and the bulk import."""
    _domain(domain.check_decision_date, data["decision_date"], today)
    version = _domain(domain.criteria_for_decision, data.get("criteria_version"), data["decision_date"])
    level = data.get("level") or "province"
    grant = _domain(domain.grant_for, version.code, data["score"], data.get("stars"), level, data["decision_date"])
    parts = data.get("score_parts")
    _domain(domain.check_score_parts, version, parts, data["score"])
    return {
        "kind": data["kind"],
        "criteria_version": version.code,
        "score": data["score"],
        "score_parts": parts,
        "stars": grant.stars,
        "level": level,
        "proposed_for_national": grant.proposed_for_national,
        "issued_by": nfc(data["issued_by"]),
        "decision_number": nfc(data["decision_number"]),
        "decision_date": data["decision_date"],
        "valid_until": domain.valid_until(data["decision_date"]),
    }


def check_replaces(fields: dict, current_stars: int | None) -> None:
    """One current certification per product: a new one only without a current one; an upgrade
    must raise the stars of the current one."""
    if fields["kind"] == "new" and current_stars is not None:
        raise Conflict("the product already has a current certification", field="product_id")
    if fields["kind"] == "upgrade" and current_stars is not None and fields["stars"] <= current_stars:
        raise Invalid(
            f"an upgrade must raise the stars; score {fields['score']} is {fields['stars']}★ and the "
            f"product already holds {current_stars}★",
            field="score",
        )


# The event of each kind of evaluation: granted (new), renewed (tái chứng nhận), upgraded (nâng sao).
CERTIFICATION_EVENT = {
    "new": "registry.certification.granted",
    "recertification": "registry.certification.renewed",
    "upgrade": "registry.certification.upgraded",
}


def certification_event(
    cert: Certification, product: Product, producer: Producer, replaces: str | None = None, decision=None
) -> dict:
    return {
        "certification_id": cert.id,
        "product_id": product.id,
        "product_name": product.name,
        "group": product.group,
        "subgroup": product.subgroup,
        "replaces_certification_id": replaces,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "producer_kind": producer.kind,
        "province": producer.province,
        "province_entered": producer.province_entered,
        "region": producer.region,
        "stars": cert.stars,
        "score": cert.score,
        "kind": cert.kind,
        "issued_by": cert.issued_by,
        "decision_number": cert.decision_number,
        "decision_date": cert.decision_date,
        "valid_until": cert.valid_until,
        "potential_five_star": product.potential_five_star,
        "level": cert.level,
        "proposed_for_national_evaluation": bool(cert.proposed_for_national),
        "decision": decisions.ref(decision) if decision is not None else None,
    }


def _ref(cert: Certification, product: Product, producer: Producer) -> dict:
    return {
        "certification_id": cert.id,
        "product_id": product.id,
        "product_name": product.name,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "valid_until": cert.valid_until,
    }


def revoke_certification(
    session: Session, emit, cert_id: str, data: dict, today: date, actor: str = "system"
) -> Certification:
    """Thu hồi: a decision ends a current certification, with its reason (words, and a code when
    given); the revoke decision is recorded (found by authority, number and date, or created)."""
    cert = get_certification(session, cert_id)
    product = session.get(Product, cert.product_id, with_for_update=True)
    session.refresh(cert)
    if cert.status != "current":
        raise Conflict(
            f"only a current certification can be revoked; this one is {cert.status}", field="certification_id"
        )
    _domain(domain.check_decision_date, data["decision_date"], today)
    if data["decision_date"] < cert.decision_date:
        raise Invalid("is before the certification's own decision date", field="decision_date")
    decision = decisions.attach(
        session,
        {
            "issued_by": data.get("issued_by") or cert.issued_by,
            "number": data["decision_number"],
            "decision_date": data["decision_date"],
            "kind": "revoke",
            "level": data.get("level"),
            "reason_code": data.get("reason_code"),
            "reason": data.get("reason"),
        },
        actor,
    )
    revoke(session, emit, cert, product, decision, data.get("reason_code"), data.get("reason"))
    return cert


def revoke(
    session: Session, emit, cert: Certification, product: Product, decision, reason_code: str | None, reason: str | None
) -> None:
    """End one current certificate by a revoke decision (its product row locked by the caller):
    one registry.certification.revoked event, and the product's "potential 5★" flag cleared."""
    cert.status = "revoked"
    cert.revoked_reason = nfc(reason) if reason else domain.REVOCATION_REASONS[reason_code]
    cert.revocation_reason_code = reason_code
    cert.revocation_decision_number = decision.number
    cert.revocation_decision_date = decision.decision_date
    cert.revocation_decision_id = decision.id
    product.version += 1
    session.flush()
    producer = session.get(Producer, product.producer_id)
    emit(
        session,
        "registry.certification.revoked",
        product.id,
        product.version,
        {
            **_ref(cert, product, producer),
            "reason": cert.revoked_reason,
            "reason_code": reason_code,
            "decision_number": cert.revocation_decision_number,
            "decision_date": cert.revocation_decision_date,
            "decision": decisions.ref(decision),
        },
    )
    _clear_potential(session, emit, product)


def _clear_potential(session: Session, emit, product: Product) -> None:
    """A product without a current 4★ certification is no longer "potential 5★" (README)."""
    if product.potential_five_star:
        product.potential_five_star = False
        product.version += 1
        session.flush()
        emit(session, "registry.product.updated", product.id, product.version, product_event(product))


NOTICE_DAYS = 30


def sweep(session: Session, emit, today: date, now: datetime) -> dict:
    """The daily sweep; idempotent. Marks current certificates past their validity expired, and
    announces once each certificate expiring within 30 days (the legal notice to the producer)."""
    expired = 0
    for cert in session.scalars(
        select(Certification)
        .where(Certification.status == "current", Certification.valid_until < today)
        .with_for_update(skip_locked=True)
    ):
        product = session.get(Product, cert.product_id, with_for_update=True)
        cert.status = "expired"
        product.version += 1
        session.flush()
        emit(
            session,
            "registry.certification.expired",
            product.id,
            product.version,
            _ref(cert, product, session.get(Producer, product.producer_id)),
        )
        _clear_potential(session, emit, product)
        expired += 1
    announced = 0
    horizon = today + timedelta(days=NOTICE_DAYS)
    for cert in session.scalars(
        select(Certification)
        .where(
            Certification.status == "current",
            Certification.valid_until <= horizon,
            Certification.expiring_announced_at.is_(None),
        )
        .with_for_update(skip_locked=True)
    ):
        product = session.get(Product, cert.product_id)
        cert.expiring_announced_at = now
        session.flush()
        emit(
            session,
            "registry.certification.expiring",
            product.id,
            product.version,
            {
                **_ref(cert, product, session.get(Producer, product.producer_id)),
                "days_left": (cert.valid_until - today).days,
            },
        )
        announced += 1
    return {"expired": expired, "expiring_announced": announced}
