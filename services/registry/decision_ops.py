"""State changes of whole decisions: record a decision with its list of certificates, and revoke
every certificate of a decision (or a listed subset) by a revoke decision of its own. All or
nothing, in the caller's one transaction, with one event per certificate through the outbox."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Conflict, Invalid, OperationError, nest

from . import decisions, domain
from . import operations as ops
from .models import Certification, Decision, Product

# The certification kind a decision's certificates take when they name none.
CERT_KIND_OF = {"certify": "new", "recertify": "recertification", "upgrade": "upgrade"}


class CertificatesRefused(Invalid):
    """Some certificates of a decision were refused: each by its index and field; nothing written."""

    def __init__(self, problems: dict[int, tuple[str, str]]):
        first = min(problems)
        field, message = problems[first]
        super().__init__(
            f"{len(problems)} certificates were refused; nothing was recorded (first: certificates."
            f"{first}.{field}: {message})",
            field="certificates",
        )
        self.problems = problems

    def errors(self):
        listed = {str(index): nest(field, [message]) for index, (field, message) in sorted(self.problems.items())}
        return {self.location: {"certificates": listed}}


def create_decision(session: Session, emit, data: dict, today: date, actor: str) -> Decision:
    """A decision with its certificates (each checked as POST /certifications checks one)."""
    if decisions.find(session, data["issued_by"], data["number"], data["date"]) is not None:
        raise Conflict(
            f"decision {data['number']} of {data['date'].strftime('%d/%m/%Y')} by {data['issued_by']} "
            "is already recorded; add a certificate to it with POST /certifications naming it",
            field="number",
        )
    level = data["level"]
    ops._domain(domain.check_level_certifies, level, data["date"])
    version = ops._domain(domain.criteria_for_decision, data.get("criteria_version"), data["date"])
    decision = decisions.new(data["issued_by"], data["number"], data["date"], level, data["kind"], version.code, actor)
    session.add(decision)
    session.flush()
    problems: dict[int, tuple[str, str]] = {}
    seen: dict[str, int] = {}
    for index, item in enumerate(data["certificates"]):
        if item["product_id"] in seen:
            problems[index] = ("product_id", f"listed twice (also certificates.{seen[item['product_id']]})")
            continue
        seen[item["product_id"]] = index
        cert = {
            **item,
            "kind": item.get("kind") or CERT_KIND_OF[data["kind"]],
            "level": level,
            "criteria_version": version.code,
            "issued_by": decision.issued_by,
            "decision_number": decision.number,
            "decision_date": decision.decision_date,
        }
        try:
            ops._domain(domain.check_decision_carries, data["kind"], cert["kind"])
            with session.begin_nested():  # a refused certificate leaves nothing behind; the others are checked
                ops.grant_certification(session, emit, cert, today, actor)
        except OperationError as exc:
            problems[index] = (exc.field or "product_id", exc.message)
    if problems:
        raise CertificatesRefused(problems)
    return decision


def revoke_decision(session: Session, emit, decision_id: str, data: dict, today: date, actor: str) -> Decision:
    """Revoke every current certificate of a decision (or those listed) by a revoke decision."""
    decision = decisions.get(session, decision_id)
    if decision.kind == "revoke":
        raise Conflict(
            "this is a revoke decision; revoke the certificates of the decision that granted them", field="decision_id"
        )
    ops._domain(domain.check_decision_date, data["date"], today)
    if data["date"] < decision.decision_date:
        raise Invalid("is before the decision it revokes", field="date")
    certs = _to_revoke(session, decision, data.get("certificate_ids"))
    revoking = decisions.attach(
        session,
        {
            "issued_by": data["issued_by"],
            "number": data["number"],
            "decision_date": data["date"],
            "kind": "revoke",
            "level": data.get("level"),
            "reason_code": data["reason_code"],
            "reason": data.get("reason"),
        },
        actor,
    )
    for cert in certs:
        product = session.get(Product, cert.product_id, with_for_update=True)
        ops.revoke(session, emit, cert, product, revoking, data["reason_code"], data.get("reason"))
    return revoking


def _to_revoke(session: Session, decision: Decision, wanted: list[str] | None) -> list[Certification]:
    """The decision's current certificates (locked, in product order so two revocations do not
    deadlock), or the listed ones, each of which must be the decision's and current."""
    query = (
        select(Certification)
        .where(Certification.decision_id == decision.id)
        .order_by(Certification.product_id)
        .with_for_update()
    )
    mine = session.scalars(query).all()
    current = [c for c in mine if c.status == "current"]
    if wanted is None:
        if not current:
            raise Conflict(f"decision {decision.number} has no current certificate left to revoke", field="decision_id")
        return current
    by_id = {c.id: c for c in mine}
    strangers = [i for i in wanted if i not in by_id]
    if strangers:
        raise Invalid(
            f"not certificates of decision {decision.number}: {', '.join(strangers[:10])}", field="certificate_ids"
        )
    ended = [f"{i} ({by_id[i].status})" for i in wanted if by_id[i].status != "current"]
    if ended:
        raise Conflict(f"only current certificates can be revoked: {', '.join(ended[:10])}", field="certificate_ids")
    chosen = set(wanted)
    return [c for c in current if c.id in chosen]
