"""Reads of the events service: fairs, invitations and the read model, as the routes and the
operations look them up (a missing one is a 404 naming its field)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from shared.errors import NotFound
from shared.text import fold

from .models import CertifiedProduct, Fair, Invitation

# Announced and not withdrawn from view; a cancelled fair is listed too once it had been announced.
PUBLIC = ("published", "inviting", "closed", "held")


def get_fair(session: Session, fair_id: str, lock: bool = False) -> Fair:
    fair = session.get(Fair, fair_id, with_for_update=lock, populate_existing=lock)
    if fair is None:
        raise NotFound(f"no fair {fair_id}", field="fair_id")
    return fair


def list_fairs(session: Session, status: str | None = None, kind: str | None = None) -> list[Fair]:
    q = select(Fair).order_by(Fair.starts_on, Fair.name)
    if status:
        q = q.where(Fair.status == status)
    if kind:
        q = q.where(Fair.kind == kind)
    return list(session.scalars(q))


def with_clashes(session: Session, fair: Fair) -> Fair:
    """The fair with ``clashes`` set (``venue_clashes``), as FairOut shows it."""
    fair.clashes = venue_clashes(session, fair)
    return fair


def venue_clashes(session: Session, fair: Fair) -> list[Fair]:
    """Other open fairs at the same venue on overlapping dates. A warning, not an error: big
    exhibition centres (SECC, Giảng Võ) hold several fairs at once in different halls."""
    q = select(Fair).where(
        Fair.id != fair.id,
        Fair.status != "cancelled",
        Fair.host_province == fair.host_province,
        Fair.starts_on <= fair.ends_on,
        Fair.ends_on >= fair.starts_on,
    )
    return [f for f in session.scalars(q) if fold(f.venue) == fold(fair.venue)]


def get_invitation(session: Session, invitation_id: str, lock: bool = False) -> Invitation:
    inv = session.get(Invitation, invitation_id, with_for_update=lock, populate_existing=lock)
    if inv is None:
        raise NotFound(f"no invitation {invitation_id}", field="invitation_id")
    return inv


def list_invitations(session: Session, fair_id: str, status: str | None = None) -> list[Invitation]:
    get_fair(session, fair_id)
    q = select(Invitation).where(Invitation.fair_id == fair_id).order_by(Invitation.rank)
    if status:
        q = q.where(Invitation.status == status)
    return list(session.scalars(q))


def counts(session: Session, fair_id: str) -> dict:
    rows = session.execute(
        select(Invitation.status, func.count()).where(Invitation.fair_id == fair_id).group_by(Invitation.status)
    ).all()
    return {status: n for status, n in rows}


def locked_invitations(session: Session, fair_id: str, statuses) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.fair_id == fair_id, Invitation.status.in_(statuses))
            .order_by(Invitation.rank)
            .with_for_update()
        )
    )


def overdue_fairs(session: Session, cutoff: datetime) -> list[str]:
    """Fairs with issued invitations whose deadline passed before ``cutoff``."""
    return list(
        session.scalars(
            select(Invitation.fair_id)
            .where(Invitation.status == "issued", Invitation.deadline < cutoff)
            .group_by(Invitation.fair_id)
            .order_by(Invitation.fair_id)
        )
    )


def _public():
    """A fair anyone may see: announced. A cancelled fair stays public if it had been announced
    (``published_at``; before that column, having invitations says so): a draft cancelled was
    never public."""
    announced = or_(Fair.published_at.is_not(None), exists().where(Invitation.fair_id == Fair.id))
    return or_(Fair.status.in_(PUBLIC), and_(Fair.status == "cancelled", announced))


def is_public(session: Session, fair_id: str) -> bool:
    return session.scalar(select(Fair.id).where(Fair.id == fair_id, _public())) is not None


def public_fair(session: Session, fair_id: str) -> Fair:
    """An announced fair (a draft is not found, as if it did not exist)."""
    if not is_public(session, fair_id):
        raise NotFound(f"no fair {fair_id}", field="fair_id")
    return get_fair(session, fair_id)


def public_fairs(
    session: Session, region: str | None = None, kind: str | None = None, status: str | None = None
) -> list[Fair]:
    """Every announced fair, soonest first (cancelled ones too, once announced)."""
    q = select(Fair).where(_public()).order_by(Fair.starts_on, Fair.name, Fair.id)
    if region:
        q = q.where(Fair.region == region)
    if kind:
        q = q.where(Fair.kind == kind)
    if status:
        q = q.where(Fair.status == status)
    return list(session.scalars(q))


def certified_product(session: Session, product_id: str) -> CertifiedProduct:
    row = session.get(CertifiedProduct, product_id)
    if row is None:
        raise NotFound(f"no certified product {product_id} in the read model", field="product_id")
    return row
