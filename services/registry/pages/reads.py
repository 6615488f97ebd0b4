"""What the pages read besides the API's queries: a product's certification history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Certification


def certification_history(session: Session, product_id: str) -> list[Certification]:
    """Every certification of a product, newest decision first (current, expired and revoked)."""
    return list(
        session.scalars(
            select(Certification)
            .where(Certification.product_id == product_id)
            .order_by(Certification.decision_date.desc(), Certification.created_at.desc())
        )
    )


def decision_listing(session: Session, province: str | None, page: int, per_page: int) -> tuple[int, list]:
    """Decisions, newest first, with how many certificates each carries (or revoked); for a province's
    officer only those carrying a certificate of its province."""
    from sqlalchemy import func, or_

    from ..models import Decision, Product

    count_of = (
        select(func.count())
        .select_from(Certification)
        .where(or_(Certification.decision_id == Decision.id, Certification.revocation_decision_id == Decision.id))
        .correlate(Decision)
        .scalar_subquery()
    )
    query = select(Decision, count_of.label("n"))
    if province is not None:
        mine = (
            select(Certification.id)
            .join(Product, Product.id == Certification.product_id)
            .where(
                or_(Certification.decision_id == Decision.id, Certification.revocation_decision_id == Decision.id),
                Product.province == province,
            )
            .correlate(Decision)
            .exists()
        )
        query = query.where(mine)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(
        query.order_by(Decision.decision_date.desc(), Decision.id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return total, rows


def expiring(session: Session, province: str | None, before, limit: int = 200) -> list:
    """Current certificates valid until before ``before``, soonest first, with their products and the
    expiry notice already sent (``expiring_announced_at``)."""
    from ..models import Producer, Product

    query = (
        select(Certification, Product, Producer.name.label("producer_name"))
        .join(Product, Product.id == Certification.product_id)
        .join(Producer, Producer.id == Product.producer_id)
        .where(Certification.status == "current", Certification.valid_until < before)
        .order_by(Certification.valid_until, Product.name)
        .limit(limit)
    )
    if province is not None:
        query = query.where(Product.province == province)
    return session.execute(query).all()


def products_named(session: Session, text: str, province: str | None) -> list:
    """Products whose name (or "name — producer") is ``text``, ignoring diacritics and case."""
    from ..models import Producer, Product
    from ..operations import folded as fold

    name, _, producer = (part.strip() for part in text.replace("—", "-").partition(" - "))
    query = (
        select(Product, Producer.name.label("producer_name"))
        .join(Producer, Producer.id == Product.producer_id)
        .where(Product.name_folded == fold(name))
    )
    if producer:
        query = query.where(Producer.name_folded == fold(producer))
    if province is not None:
        query = query.where(Product.province == province)
    return session.execute(query.limit(5)).all()
