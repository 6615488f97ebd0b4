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
