"""Decisions as records of their own: one decision (quyết định) of an authority certifies,
re-certifies, upgrades or revokes many products at once. Found by its authority, number and date
(compared without diacritics or case), created the first time a certificate names it. Used by the
single-record API, the decision API, the bulk import and the queue command alike."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict, Invalid, NotFound
from shared.text import nfc

from . import domain
from .models import Certification, Decision, Product


def find(session: Session, issued_by: str, number: str, decision_date: date, lock: bool = False) -> Decision | None:
    authority, number_key = domain.decision_key(issued_by, number)
    query = select(Decision).where(
        Decision.issued_by_key == authority, Decision.number_key == number_key, Decision.decision_date == decision_date
    )
    return session.scalar(query.with_for_update() if lock else query)


def new(
    issued_by: str,
    number: str,
    decision_date: date,
    level: str,
    kind: str,
    criteria_version: str | None,
    recorded_by: str,
    reason_code: str | None = None,
    reason: str | None = None,
) -> Decision:
    issued_by, number = nfc(issued_by), nfc(number)
    authority, number_key = domain.decision_key(issued_by, number)
    return Decision(
        issued_by=issued_by,
        number=number,
        decision_date=decision_date,
        issued_by_key=authority,
        number_key=number_key,
        level=level,
        kind=kind,
        criteria_version=criteria_version,
        reason_code=reason_code,
        reason=reason,
        recorded_by=(recorded_by or "unknown")[:200],
    )


def attach(session: Session, spec: dict, recorded_by: str) -> Decision:
    """The decision a certificate (or a revocation) names: found, and checked that it can carry it,
    or created. ``spec``: issued_by, number, decision_date, kind (of the decision), level (None:
    the found decision's, else province), criteria_version, reason_code, reason."""
    found = find(session, spec["issued_by"], spec["number"], spec["decision_date"], lock=True)
    if found is None:
        decision = new(
            spec["issued_by"],
            spec["number"],
            spec["decision_date"],
            spec.get("level") or "province",
            spec["kind"],
            spec.get("criteria_version"),
            recorded_by,
            spec.get("reason_code"),
            spec.get("reason"),
        )
        try:
            # A concurrent request may record the same decision meanwhile (PostgreSQL runs them at once).
            with session.begin_nested():
                session.add(decision)
                session.flush()
            return decision
        except IntegrityError:
            found = find(session, spec["issued_by"], spec["number"], spec["decision_date"], lock=True)
            if found is None:
                raise
    check_fits(found, spec)
    return found


def check_fits(found: Decision, spec: dict) -> None:
    """A decision already recorded can carry another certificate (or revocation) only of its kind and level."""
    when = found.decision_date.strftime("%d/%m/%Y")
    revoking = spec["kind"] == "revoke"
    if (found.kind == "revoke") != revoking:
        raise Conflict(
            f"decision {found.number} of {when} ({found.issued_by}) is a {found.kind} decision; it "
            f"cannot {'revoke' if revoking else 'certify'}",
            field="decision_number",
        )
    if not revoking:
        for cert_kind, decision_kind in domain.DECISION_KIND_OF.items():
            if decision_kind == spec["kind"]:
                try:
                    domain.check_decision_carries(found.kind, cert_kind)
                except domain.DomainError as exc:
                    raise Invalid(
                        f"decision {found.number} of {when} is a {found.kind} decision; it cannot carry "
                        f"a {cert_kind} certification",
                        field=exc.field,
                    ) from exc
                break
    if spec.get("level") and spec["level"] != found.level:
        raise Invalid(
            f"decision {found.number} of {when} is a {found.level} decision, not {spec['level']}", field="level"
        )
    if revoking and spec.get("reason_code") and spec["reason_code"] != found.reason_code:
        raise Invalid(
            f"decision {found.number} of {when} revokes for {found.reason_code}, not {spec['reason_code']}",
            field="reason_code",
        )


def ref(decision: Decision) -> dict:
    """What an event says of its decision (added within v1)."""
    return {
        "decision_id": decision.id,
        "number": decision.number,
        "date": decision.decision_date,
        "issued_by": decision.issued_by,
        "level": decision.level,
        "kind": decision.kind,
    }


def get(session: Session, decision_id: str) -> Decision:
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"no decision {decision_id}", field="decision_id")
    return decision


def certificates(session: Session, decision: Decision) -> list[dict]:
    """A decision's certificates (a revoke decision's: those it revoked), with their products' names."""
    link = Certification.revocation_decision_id if decision.kind == "revoke" else Certification.decision_id
    rows = session.execute(
        select(Certification, Product.name)
        .join(Product, Product.id == Certification.product_id)
        .where(link == decision.id)
        .order_by(Product.name, Certification.id)
    ).all()
    return [
        {**{c.key: getattr(cert, c.key) for c in Certification.__table__.columns}, "product_name": name}
        for cert, name in rows
    ]


def listing(session: Session, filters: dict, page: int, per_page: int) -> tuple[int, list[dict]]:
    """Decisions, newest first, filtered by year, kind, level and authority (folded, a part of it)."""
    query = select(Decision)
    if filters.get("year") is not None:
        year = filters["year"]
        query = query.where(Decision.decision_date >= date(year, 1, 1), Decision.decision_date <= date(year, 12, 31))
    for key in ("kind", "level"):
        if filters.get(key) is not None:
            query = query.where(getattr(Decision, key) == filters[key])
    if filters.get("issued_by"):
        authority, _ = domain.decision_key(filters["issued_by"], "")
        query = query.where(Decision.issued_by_key.contains(authority, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    decisions = session.scalars(
        query.order_by(Decision.decision_date.desc(), Decision.id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    counts = _counts(session, [d for d in decisions])
    return total, [{**out(d), "certificate_count": counts.get(d.id, 0)} for d in decisions]


def _counts(session: Session, decisions: list[Decision]) -> dict[str, int]:
    ids = {d.id for d in decisions}
    if not ids:
        return {}
    out: dict[str, int] = {}
    for link in (Certification.decision_id, Certification.revocation_decision_id):
        for decision_id, n in session.execute(select(link, func.count()).where(link.in_(ids)).group_by(link)):
            out[decision_id] = out.get(decision_id, 0) + n
    return out


def out(decision: Decision) -> dict:
    return {c.key: getattr(decision, c.key) for c in Decision.__table__.columns if not c.key.endswith("_key")}
