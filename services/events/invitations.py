"""An invitation's life: issued, answered (accepted with its booths, or declined), withdrawn,
expired; the waitlist promoted into freed places. Flush, emit into the outbox, never commit.

Locking, so that capacity holds with any number of API and worker replicas: every change to a
fair's booths or invitations first locks the fair's row (``SELECT ... FOR UPDATE``); an acceptance
first takes the producer's advisory lock (PostgreSQL), so one producer accepting two overlapping
fairs at once is serialised too. Order: producer, then fair; a change touching several fairs locks
them in id order. SQLite (the embedded default) serialises every writer at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.errors import Conflict, Forbidden, Invalid
from shared.instants import utc

from . import domain, matching
from .models import CertifiedProduct, Fair, Invitation, ProducerView
from .payloads import fair_summary
from .queries import get_fair, get_invitation, locked_invitations
from .read_model import apply_certification_ended
from .standings import busy, load_of, ranking, terms

OPEN_INVITATION = ("issued", "waitlisted", "accepted")


def _products(pick: matching.Pick) -> list[dict]:
    return [{"product_id": c.product_id, "name": c.product_name, "stars": c.stars} for c in pick.products]


def new_invitation(fair: Fair, pick: matching.Pick, rank: int, status: str, hold: str | None) -> Invitation:
    reasons = pick.reasons + ([f"waitlisted: {hold}"] if hold else [])
    return Invitation(
        fair_id=fair.id,
        producer_id=pick.producer_id,
        status=status,
        rank=rank,
        score=pick.score,
        score_parts=pick.parts,
        reasons=reasons,
        group=pick.group,
        booth_count=pick.booths,
        products=_products(pick),
        deadline=utc(fair.invitation_deadline),
        version=1,
        status_reason=hold,
    )


def issue(session: Session, emit, inv: Invitation, fair: Fair, now: datetime) -> Invitation:
    """Offer the invitation: its own deadline, and events.invitation.issued (notifications emails it)."""
    inv.status, inv.status_reason, inv.issued_at = "issued", None, now
    inv.deadline = domain.invitation_deadline(now, fair.response_days, utc(fair.invitation_deadline))
    if inv.id is None:
        session.add(inv)
    session.flush()
    emit(
        session,
        "events.invitation.issued",
        inv.id,
        inv.version,
        {
            "invitation_id": inv.id,
            "producer_id": inv.producer_id,
            "fair": fair_summary(fair),
            "products": inv.products,
            "deadline": utc(inv.deadline),
            "score": inv.score,
            "reasons": inv.reasons,
            "rank": inv.rank,
            "score_parts": inv.score_parts,
            "booth_count": inv.booth_count,
            **_producer_province(session, inv.producer_id),
        },
    )
    return inv


def _producer_province(session: Session, producer_id: str) -> dict:
    """The producer's province for the letter, both names where it keeps an old one (read model)."""
    source = (
        session.get(ProducerView, producer_id)
        or session.scalars(select(CertifiedProduct).where(CertifiedProduct.producer_id == producer_id).limit(1)).first()
    )
    if source is None:
        return {}
    return {"producer_province": source.province, "producer_province_entered": source.province_entered}


def _lock_producer(session: Session, producer_id: str) -> None:
    """Serialise one producer's acceptances across fairs (so two overlapping fairs cannot both be
    accepted at once). PostgreSQL: a transaction-scoped advisory lock; SQLite serialises anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"ocop-producer:{producer_id}"}
        )


def answer_invitation(
    session: Session,
    emit,
    invitation_id: str,
    producer_id: str,
    answer: str,
    note: str | None,
    answered_at: datetime,
    received_at: datetime | None = None,
) -> Invitation:
    """Apply a producer's answer. Raises Conflict/Invalid/Forbidden when it cannot be applied.

    The deadline is judged by ``received_at``, when this service received the answer (the time a
    message claims is only recorded, never believed); without it, by ``answered_at``."""
    inv = get_invitation(session, invitation_id)
    if inv.producer_id != producer_id:
        raise Forbidden("this invitation belongs to another producer", field="invitation_id", cause="not_yours")
    if answer == "accept":
        _lock_producer(session, producer_id)
    # Lock the fair first, then the invitation: every booth assignment on a fair serialises here,
    # so capacity holds even when many producers accept the last booths at once.
    fair = get_fair(session, inv.fair_id, lock=True)
    inv = get_invitation(session, invitation_id, lock=True)
    if inv.status != "issued":
        what = "not offered yet: it is on the waitlist" if inv.status == "waitlisted" else f"already {inv.status}"
        cause = {"waitlisted": "waitlisted", "accepted": "already_answered", "declined": "already_answered"}.get(
            inv.status, "closed"
        )
        raise Conflict(f"the invitation is {what}", field="invitation_id", cause=cause)
    if (received_at or answered_at) > utc(inv.deadline):
        raise Invalid(
            f"the deadline {utc(inv.deadline).isoformat()} has passed", field="answered_at", cause="deadline_passed"
        )
    base = {
        "invitation_id": inv.id,
        "producer_id": inv.producer_id,
        "fair_id": fair.id,
        "note": note,
        "answered_at": answered_at,
    }
    if answer == "accept":
        _accept(session, emit, fair, inv, base)
    else:
        _answered(inv, "declined", note, answered_at)
        session.flush()
        emit(session, "events.invitation.declined", inv.id, inv.version, base)
        promote(session, emit, fair, "declined", inv.id, datetime.now(UTC))
    return inv


def _answered(inv: Invitation, status: str, note: str | None, answered_at: datetime) -> None:
    inv.status, inv.note, inv.answered_at = status, note, answered_at
    inv.version += 1


def _accept(session: Session, emit, fair: Fair, inv: Invitation, base: dict) -> None:
    clash = busy(session, fair, [inv.producer_id]).get(inv.producer_id)
    if clash:
        raise Conflict(f"cannot accept: {clash}", field="invitation_id", cause="clash")
    t = terms(fair)
    refusal = matching.acceptance_refusal(t, load_of(session, fair.id), inv.group, inv.booth_count)
    if refusal:
        raise Conflict(refusal, field="invitation_id", cause="fair_full")
    used = [
        b
        for (booths,) in session.execute(
            select(Invitation.booths).where(Invitation.fair_id == fair.id, Invitation.status == "accepted")
        )
        for b in (booths or [])
    ]
    inv.booths = matching.free_booths(fair.capacity, used, inv.booth_count)
    inv.booth = inv.booths[0]
    _answered(inv, "accepted", base["note"], base["answered_at"])
    fair.booths_assigned += inv.booth_count
    fair.version += 1  # its booths changed: events about them carry a newer version each time
    session.flush()
    emit(session, "events.invitation.accepted", inv.id, inv.version, {**base, "booth": inv.booth, "booths": inv.booths})
    emit(
        session,
        "events.booth.assigned",
        fair.id,
        fair.version,
        {
            "fair_id": fair.id,
            "invitation_id": inv.id,
            "producer_id": inv.producer_id,
            "booths": inv.booths,
            "booths_assigned": fair.booths_assigned,
            "capacity": fair.capacity,
        },
    )
    _withdraw_unfulfillable(session, emit, fair)


def _withdraw_unfulfillable(session: Session, emit, fair: Fair) -> None:
    """With overbooking, offers can outnumber booths: once the booths (or a group's quota) are gone,
    the offers that can no longer be honoured are withdrawn instead of left to fail on acceptance."""
    t, load = terms(fair), load_of(session, fair.id)  # withdrawing offers changes no accepted booth
    for inv in locked_invitations(session, fair.id, ("issued",)):
        refusal = matching.acceptance_refusal(t, load, inv.group, inv.booth_count)
        if refusal:
            withdraw(session, emit, fair, inv, refusal, "fair_full")


def withdraw(
    session: Session, emit, fair: Fair, inv: Invitation, reason: str, cause: str, detail: str | None = None
) -> None:
    """``reason`` in words; ``cause`` its code (contracts.events.WITHDRAWAL_CAUSES), ``detail`` what it names."""
    previous, freed = inv.status, list(inv.booths or []) if inv.status == "accepted" else []
    if freed:
        fair.booths_assigned -= inv.booth_count
        fair.version += 1
    inv.status, inv.status_reason = "withdrawn", reason
    inv.version += 1
    session.flush()
    emit(
        session,
        "events.invitation.withdrawn",
        inv.id,
        inv.version,
        {
            "invitation_id": inv.id,
            "producer_id": inv.producer_id,
            "fair_id": fair.id,
            "previous_status": previous,
            "reason": reason,
            "booths": freed,
            "cause": cause,
            "detail": detail,
        },
    )


def expire(session: Session, emit, inv: Invitation, reason: str) -> None:
    inv.status, inv.status_reason = "expired", reason
    inv.version += 1
    session.flush()
    emit(
        session,
        "events.invitation.expired",
        inv.id,
        inv.version,
        {
            "invitation_id": inv.id,
            "producer_id": inv.producer_id,
            "fair_id": inv.fair_id,
            "deadline": utc(inv.deadline),
        },
    )


def withdraw_invitation(
    session: Session, emit, invitation_id: str, reason: str, now: datetime | None = None
) -> Invitation:
    """The organiser takes an invitation back (issued, waitlisted or accepted); the next waitlisted moves up."""
    inv = get_invitation(session, invitation_id)
    fair = get_fair(session, inv.fair_id, lock=True)
    inv = get_invitation(session, invitation_id, lock=True)
    if inv.status not in OPEN_INVITATION:
        raise Conflict(f"the invitation is already {inv.status}", field="invitation_id")
    if fair.status not in ("published", "inviting", "closed"):
        raise Conflict(f"the fair is {fair.status}", field="status")
    withdraw(session, emit, fair, inv, f"withdrawn by the organiser: {reason}", "organiser", reason)
    promote(session, emit, fair, "withdrawn", inv.id, now or datetime.now(UTC))
    return inv


def promote(
    session: Session, emit, fair: Fair, cause: str, cause_invitation_id: str | None, now: datetime
) -> list[Invitation]:
    """Fill freed places from the waitlist, best rank first, as far as booths and quotas allow.
    When the waitlist has run dry, match again for producers beyond it (once)."""
    if fair.status != "inviting" or now >= utc(fair.invitation_deadline):
        return []
    waiting = locked_invitations(session, fair.id, ("waitlisted",))
    if not waiting and _refill(session, fair, now):
        waiting = locked_invitations(session, fair.id, ("waitlisted",))
    t, load, promoted = terms(fair), load_of(session, fair.id), []
    by_id = {w.id: w for w in waiting}
    queue = [matching.Waiting(w.id, w.rank, w.group, w.booth_count) for w in waiting]
    while (nxt := matching.next_to_promote(queue, t, load)) is not None:
        queue.remove(nxt)
        load.add_issued(nxt.group, nxt.booths)
        inv = by_id[nxt.invitation_id]
        deadline = domain.invitation_deadline(now, fair.response_days, utc(fair.invitation_deadline))
        inv.version += 1
        emit(
            session,
            "events.waitlist.promoted",
            inv.id,
            inv.version,
            {
                "invitation_id": inv.id,
                "producer_id": inv.producer_id,
                "fair_id": fair.id,
                "rank": inv.rank,
                "cause": cause,
                "cause_invitation_id": cause_invitation_id,
                "deadline": deadline,
            },
        )
        inv.version += 1  # then issued, one version later: each event about it is newer than the last
        issue(session, emit, inv, fair, now)
        promoted.append(inv)
    return promoted


def _refill(session: Session, fair: Fair, now: datetime) -> int:
    """Match again and waitlist the best producers who have no invitation to this fair yet."""
    have = set(session.scalars(select(Invitation.producer_id).where(Invitation.fair_id == fair.id)))
    last = session.scalar(select(func.max(Invitation.rank)).where(Invitation.fair_id == fair.id)) or 0
    fresh = [p for p in ranking(session, fair, now) if p.producer_id not in have][: terms(fair).waitlist_size]
    for n, pick in enumerate(fresh, start=1):
        session.add(new_invitation(fair, pick, last + n, "waitlisted", "added when the waitlist ran dry"))
    session.flush()
    return len(fresh)


def expire_overdue(session: Session, emit, fair_id: str, cutoff: datetime, now: datetime) -> int:
    """Expire one fair's issued invitations whose deadline passed before ``cutoff`` and promote from
    the waitlist. Idempotent: an invitation already expired (or answered) is left alone."""
    fair = get_fair(session, fair_id, lock=True)
    overdue = [inv for inv in locked_invitations(session, fair.id, ("issued",)) if utc(inv.deadline) < cutoff]
    for inv in overdue:
        expire(session, emit, inv, "no answer before the deadline")
    for inv in overdue:
        promote(session, emit, fair, "expired", inv.id, now)
    return len(overdue)


def certificate_ended(session: Session, emit, envelope: dict, data: dict) -> bool:
    """registry.certification.revoked/expired: the read model marks the product, and every open
    invitation of a fair still to come drops the product; one left with no product is withdrawn
    and the next waitlisted producer moves up."""
    if not apply_certification_ended(session, envelope, data):
        return False
    status = "revoked" if envelope["type"].endswith(".revoked") else "expired"
    today = datetime.now(UTC).date()
    mine = session.scalars(
        select(Invitation)
        .where(Invitation.producer_id == data["producer_id"], Invitation.status.in_(OPEN_INVITATION))
        .order_by(Invitation.fair_id)
    )
    affected = [inv for inv in mine if any(p["product_id"] == data["product_id"] for p in inv.products)]
    for inv in affected:
        fair = get_fair(session, inv.fair_id, lock=True)
        if fair.status not in ("published", "inviting", "closed") or fair.ends_on < today:
            continue
        inv = get_invitation(session, inv.id, lock=True)
        inv.products = [p for p in inv.products if p["product_id"] != data["product_id"]]
        if inv.products:
            inv.reasons = [*inv.reasons, f"{data['product_name']} dropped: its certificate was {status}"]
            inv.version += 1
            session.flush()
            continue
        was_open = inv.status in ("issued", "accepted")
        withdraw(
            session,
            emit,
            fair,
            inv,
            f"the certificate of {data['product_name']} was {status}",
            f"certificate_{status}",
            data["product_name"],
        )
        if was_open:
            promote(session, emit, fair, "withdrawn", inv.id, datetime.now(UTC))
    return True
