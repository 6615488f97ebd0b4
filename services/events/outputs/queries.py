"""What the events service gives out, read side only: calendar feeds of fairs, the participants'
export of a fair, and the programme figures of a period. Reads, never writes; the pure parts are
``calendars`` (iCalendar) and ``figures`` (Gini and the rest).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from shared import csvsafe, reference
from shared.contracts.events import PRODUCER_KINDS, REGIONS
from shared.errors import Invalid, NotFound
from shared.instants import VIETNAM, vietnam_today

from .. import domain
from ..models import CertifiedProduct, Fair, Invitation, ProducerView, ProductView
from ..queries import PUBLIC, public_fairs
from . import calendars, figures

# Fairs counted in the programme figures: announced and not cancelled.
COUNTED = PUBLIC


# ---- calendars ------------------------------------------------------------------------------------
def _entry(fair: Fair) -> calendars.FairEntry:
    return calendars.FairEntry(
        id=fair.id,
        name=fair.name,
        kind=fair.kind,
        organiser=fair.organiser,
        venue=fair.venue,
        host_province=fair.host_province,
        starts_on=fair.starts_on,
        ends_on=fair.ends_on,
        status=fair.status,
        version=fair.version,
        invitation_deadline=fair.invitation_deadline,
        cancel_reason=fair.cancel_reason,
        created_at=fair.created_at,
        updated_at=fair.updated_at,
    )


def fairs_calendar(session: Session, region: str | None = None, kind: str | None = None) -> bytes:
    return calendars.fairs_feed([_entry(f) for f in public_fairs(session, region, kind)])


def producer_known(session: Session, producer_id: str) -> bool:
    return (
        session.get(ProducerView, producer_id) is not None
        or session.scalar(select(Invitation.id).where(Invitation.producer_id == producer_id).limit(1)) is not None
        or session.scalar(
            select(CertifiedProduct.product_id).where(CertifiedProduct.producer_id == producer_id).limit(1)
        )
        is not None
    )


def producer_name(session: Session, producer_id: str) -> str | None:
    row = session.get(ProducerView, producer_id)
    if row is not None:
        return row.name
    return session.scalar(
        select(CertifiedProduct.producer_name).where(CertifiedProduct.producer_id == producer_id).limit(1)
    )


def producer_calendar(session: Session, producer_id: str) -> bytes:
    """The fairs a producer accepted: still going (CONFIRMED) or no longer (its acceptance withdrawn,
    or the fair cancelled: CANCELLED). An invitation answered and then withdrawn had been accepted:
    a declined one stays declined."""
    if not producer_known(session, producer_id):
        raise NotFound(f"the events service knows no producer {producer_id}", field="producer_id")
    rows = session.execute(
        select(Invitation, Fair)
        .join(Fair, Fair.id == Invitation.fair_id)
        .where(
            Invitation.producer_id == producer_id,
            Invitation.answered_at.is_not(None),
            Invitation.status.in_(("accepted", "withdrawn")),
        )
        .order_by(Fair.starts_on, Fair.id)
    ).all()
    booths = [
        calendars.BoothEntry(
            invitation_id=inv.id,
            status=inv.status,
            version=inv.version,
            booths=list(inv.booths or []),
            status_reason=inv.status_reason,
            fair=_entry(fair),
        )
        for inv, fair in rows
    ]
    return calendars.producer_feed(producer_name(session, producer_id), booths)


# ---- participants' export -------------------------------------------------------------------------
PARTICIPANT_COLUMNS = [
    "status",
    "rank",
    "booths",
    "producer_id",
    "producer",
    "producer_kind",
    "province",
    "region",
    "email",
    "phone",
    "product_id",
    "product",
    "group",
    "subgroup",
    "stars",
    "certificate_valid_until",
    "certificate_status",
    "subsidy",
]
_STATUS_ORDER = {"accepted": 0, "issued": 1, "waitlisted": 2, "declined": 3, "expired": 4, "withdrawn": 5}
CHUNK = 500


def participants_csv(session: Session, fair: Fair, statuses: list[str]) -> Iterator[str]:
    """CSV of a fair's participants (UTF-8 with a BOM, so spreadsheet programs read the diacritics
    right), produced in chunks rather than held in memory: one row per product on each
    invitation of the given statuses, accepted first (by booth), then by rank. Producer and
    product as the read model knows them now (the invitation's own snapshot where the read model
    has no row). ``subsidy``: the producer's booths times the fair's subsidy per booth, on its
    first row only and only once accepted, so the column adds up to the fair's subsidy committed."""
    buffer = io.StringIO()
    # text cells that start like a formula get a quote in front (shared/csvsafe.py)
    writer = csvsafe.DictWriter(buffer, fieldnames=PARTICIPANT_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writeheader()
    order = case(_STATUS_ORDER, value=Invitation.status, else_=9)
    q = (
        select(Invitation)
        .where(Invitation.fair_id == fair.id, Invitation.status.in_(statuses))
        .order_by(order, Invitation.booth, Invitation.rank, Invitation.id)
    )
    result = session.execute(q.execution_options(yield_per=CHUNK))
    for chunk in result.scalars().partitions(CHUNK):
        producers, certified, products = _read_model_for(session, chunk)
        for inv in chunk:
            for row in _participant_rows(fair, inv, producers.get(inv.producer_id), certified, products):
                writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _read_model_for(session: Session, invitations: list[Invitation]):
    producer_ids = sorted({inv.producer_id for inv in invitations})
    product_ids = sorted({p["product_id"] for inv in invitations for p in inv.products or []})
    producers = {
        p.producer_id: p
        for p in session.scalars(select(ProducerView).where(ProducerView.producer_id.in_(producer_ids)))
    }
    certified = {
        c.product_id: c
        for c in session.scalars(select(CertifiedProduct).where(CertifiedProduct.product_id.in_(product_ids)))
    }
    products = {
        p.product_id: p for p in session.scalars(select(ProductView).where(ProductView.product_id.in_(product_ids)))
    }
    return producers, certified, products


def _participant_rows(
    fair: Fair, inv: Invitation, producer: ProducerView | None, certified: dict, products: dict
) -> list[dict]:
    items = inv.products or [{}]
    rows = []
    for n, item in enumerate(items):
        cert = certified.get(item.get("product_id"))
        view = products.get(item.get("product_id"))
        source = producer or cert  # the producer as the read model knows it, else the certification's snapshot
        row = {
            "status": inv.status,
            "rank": inv.rank,
            "booths": " ".join(str(b) for b in inv.booths or []),
            "producer_id": inv.producer_id,
            "producer": producer.name if producer else (cert.producer_name if cert else ""),
            "producer_kind": producer.kind if producer else (cert.producer_kind if cert else ""),
            "province": reference.province_label(source.province, source.province_entered) if source else "",
            "region": source.region if source else "",
            "email": (producer.email if producer else None) or "",
            "phone": (producer.phone if producer else None) or "",
            "product_id": item.get("product_id", ""),
            "product": (cert.product_name if cert else view.name if view else item.get("name", "")),
            "group": cert.group if cert else (view.group if view else ""),
            "subgroup": (cert.subgroup if cert else view.subgroup if view else None) or "",
            "stars": cert.stars if cert else item.get("stars", ""),
            "certificate_valid_until": cert.valid_until.isoformat() if cert else "",
            "certificate_status": cert.status if cert else ("uncertified" if view else ""),
            "subsidy": inv.booth_count * fair.subsidy_per_booth if inv.status == "accepted" and n == 0 else "",
        }
        rows.append(row)
    return rows


# ---- programme figures ----------------------------------------------------------------------------
class QueryInvalid(Invalid):
    """A query parameter refused by the operation, named where the schema's errors name it."""

    location = "query"


def _producer_attribute(column, fallback):
    """The producer's province, region or kind: the producers read model, else any of its certified
    products (a certification's snapshot). Correlated to the invitations of the query."""
    snapshot = (
        select(func.max(fallback))
        .where(CertifiedProduct.producer_id == Invitation.producer_id)
        .correlate(Invitation)
        .scalar_subquery()
    )
    return func.coalesce(column, snapshot)


def programme_figures(
    session: Session,
    year: int | None = None,
    start: date | None = None,
    end: date | None = None,
    provinces: list[str] | None = None,
    regions: list[str] | None = None,
    today: date | None = None,
) -> dict:
    """Figures of the fairs starting in a period (announced, not cancelled) and of their
    invitations; ``provinces``/``regions`` narrow the producer side (breakdowns, totals of
    invitations, fairness) to producers from there. See ``figures`` for the definitions."""
    today = today or vietnam_today()
    try:
        start, end = figures.period(year, start, end, today)
    except domain.RuleError as exc:
        raise QueryInvalid(exc.message, field=exc.field) from None
    provinces, regions = provinces or [], regions or []
    in_period = and_(Fair.starts_on >= start, Fair.starts_on <= end)
    counted = and_(in_period, Fair.status.in_(COUNTED))

    pv = ProducerView
    # One row per invitation offered in the period with its producer's attributes, filtered; the
    # aggregates group over it (PostgreSQL cannot group by the correlated fallback directly).
    offers = (
        select(
            _producer_attribute(pv.region, CertifiedProduct.region).label("region"),
            _producer_attribute(pv.province, CertifiedProduct.province).label("province"),
            Invitation.group.label("group"),
            _producer_attribute(pv.kind, CertifiedProduct.producer_kind).label("kind"),
            Invitation.producer_id.label("producer_id"),
            Invitation.status.label("status"),
        )
        .select_from(Invitation)
        .join(Fair, Fair.id == Invitation.fair_id)
        .outerjoin(pv, pv.producer_id == Invitation.producer_id)
        .where(counted, Invitation.issued_at.is_not(None))
    ).subquery()
    o = offers.c
    wanted = ([o.province.in_(provinces)] if provinces else []) + ([o.region.in_(regions)] if regions else [])
    narrowed = or_(*wanted) if wanted else true()
    took = func.sum(case((o.status == "accepted", 1), else_=0))
    # One aggregate for every breakdown: (region, province, group, kind) -> invitations, acceptances.
    combos = session.execute(
        select(o.region, o.province, o.group, o.kind, func.count(), took)
        .where(narrowed)
        .group_by(o.region, o.province, o.group, o.kind)
    ).all()
    per_producer = dict(
        session.execute(select(o.producer_id, func.count()).where(narrowed).group_by(o.producer_id)).all()
    )

    offered = Invitation.issued_at.is_not(None)
    per_fair = session.execute(
        select(
            Fair,
            func.count(Invitation.id).filter(offered),
            func.sum(case((Invitation.status == "accepted", 1), else_=0)),
        )
        .outerjoin(Invitation, Invitation.fair_id == Fair.id)
        .where(counted)
        .group_by(Fair.id)
        .order_by(Fair.starts_on, Fair.name, Fair.id)
    ).all()
    cancelled = session.scalar(select(func.count()).select_from(Fair).where(in_period, Fair.status == "cancelled"))

    return {
        "period": {"from": start, "to": end},
        "filters": {"provinces": provinces, "regions": regions},
        "overall": _overall(per_fair, combos, cancelled),
        "fairs": [_fair_row(fair, invited, took) for fair, invited, took in per_fair],
        "by_region": figures.tallies(((r[0], r[4], r[5]) for r in combos), REGIONS),
        "by_province": figures.tallies((r[1], r[4], r[5]) for r in combos),
        "by_group": figures.tallies(((r[2], r[4], r[5]) for r in combos), [str(g) for g in range(1, 7)]),
        "by_producer_kind": figures.tallies(((r[3], r[4], r[5]) for r in combos), PRODUCER_KINDS),
        "fairness": figures.fairness(_eligible(session, start, end, provinces, regions), per_producer).as_dict(),
    }


def _fair_row(fair: Fair, invited: int, took) -> dict:
    return {
        "fair_id": fair.id,
        "name": fair.name,
        "kind": fair.kind,
        "status": fair.status,
        "host_province": fair.host_province,
        "region": fair.region,
        "starts_on": fair.starts_on,
        "ends_on": fair.ends_on,
        "invitations": int(invited or 0),
        "acceptances": int(took or 0),
        "subsidy_per_booth": fair.subsidy_per_booth,
        **figures.fair_figures(fair.capacity, fair.booths_assigned, fair.subsidy_per_booth, fair.budget),
    }


def _overall(per_fair, combos, cancelled: int) -> dict:
    fairs = [f for f, _, _ in per_fair]
    capacity = sum(f.capacity for f in fairs)
    booths = sum(f.booths_assigned for f in fairs)
    committed = sum(f.booths_assigned * f.subsidy_per_booth for f in fairs)
    budgeted = [f for f in fairs if f.budget is not None]
    budget = sum(f.budget for f in budgeted)
    on_budget = sum(f.booths_assigned * f.subsidy_per_booth for f in budgeted)
    invitations = sum(int(r[4]) for r in combos)
    acceptances = sum(int(r[5] or 0) for r in combos)
    return {
        "fairs": len(fairs),
        "cancelled_fairs": int(cancelled or 0),
        "capacity": capacity,
        "booths_assigned": booths,
        "fill_rate": figures.ratio(booths, capacity),
        "subsidy_committed": committed,
        "budget": budget if budgeted else None,
        "fairs_with_budget": len(budgeted),
        "budget_used": figures.ratio(on_budget, budget) if budgeted else None,
        "invitations": invitations,
        "acceptances": acceptances,
        "acceptance_rate": figures.ratio(acceptances, invitations),
    }


def _eligible(session: Session, start: date, end: date, provinces: list[str], regions: list[str]) -> set[str]:
    """Producers with a product certified at some time in the period, as the read model knows it:
    a certificate valid then (``figures.certified_window``) and not revoked before the period
    began (the read model keeps when a row last changed, not the revocation's date)."""
    cp = CertifiedProduct
    low, high = figures.certified_window(start, end)
    began = datetime.combine(start, datetime.min.time(), VIETNAM).astimezone(UTC)
    q = (
        select(cp.producer_id)
        .distinct()
        .where(cp.valid_until >= low, cp.valid_until <= high, or_(cp.status != "revoked", cp.updated_at >= began))
    )
    wanted = []
    if provinces:
        wanted.append(cp.province.in_(provinces))
    if regions:
        wanted.append(cp.region.in_(regions))
    if wanted:
        q = q.where(or_(*wanted))
    return set(session.scalars(q))
