"""Why a product was or was not chosen for a fair (GET /fairs/{id}/explain/{product}): its
invitation, the rules it fails, or where it ranks against the cut. Reads only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import NotFound

from . import matching, selection
from .models import Fair, Invitation
from .queries import get_fair
from .standings import busy, ranking, terms


def explain(session: Session, fair_id: str, product_id: str, now: datetime | None = None) -> dict:
    """Why a product was or was not chosen for a fair: its invitation, the rules it fails, or
    where it ranks against the cut."""
    now = now or datetime.now(UTC)
    fair = get_fair(session, fair_id)
    c = _known_product(session, product_id)
    t = terms(fair)
    out = {
        "fair_id": fair.id,
        "product_id": c.product_id,
        "product_name": c.product_name,
        "producer_id": c.producer_id,
        "failed_rules": [],
        "rank": None,
        "score": None,
        "parts": None,
        "cut": None,
        "invitation_id": None,
        "invitation_status": None,
    }
    inv = session.scalar(
        select(Invitation).where(Invitation.fair_id == fair.id, Invitation.producer_id == c.producer_id)
    )
    if inv is not None and any(p["product_id"] == c.product_id for p in inv.products):
        return {
            **out,
            **_invitation_facts(inv),
            "outcome": "chosen",
            "message": f"chosen: {c.product_name} is on the producer's invitation, which is {inv.status}",
        }
    failed = [{"rule": rule, "message": words} for rule, words in matching.failures(c, t.rules, t.starts_on, t.ends_on)]
    clash = busy(session, fair, [c.producer_id]).get(c.producer_id)
    if clash:
        failed.append({"rule": "double_booking", "message": clash})
    if failed:
        return {
            **out,
            "outcome": "ineligible",
            "failed_rules": failed,
            "message": "not eligible: " + "; ".join(f["message"] for f in failed),
        }
    if inv is not None:
        chosen = ", ".join(p["name"] for p in inv.products)
        return {
            **out,
            **_invitation_facts(inv),
            "outcome": "other_products_chosen",
            "message": f"the producer's invitation ({inv.status}) carries its best products for this fair "
            f"({chosen}); at most {t.rules.max_products_per_producer} per producer",
        }
    return {**out, **_against_the_cut(session, fair, c, now)}


def _known_product(session: Session, product_id: str) -> matching.Candidate:
    found = selection.details(session)([product_id])
    if product_id in found:
        return found[product_id]
    raise NotFound(f"the events service knows no product {product_id}", field="product_id")


def _invitation_facts(inv: Invitation) -> dict:
    return {
        "rank": inv.rank,
        "score": inv.score,
        "parts": inv.score_parts,
        "invitation_id": inv.id,
        "invitation_status": inv.status,
    }


def _against_the_cut(session: Session, fair: Fair, c: matching.Candidate, now: datetime) -> dict:
    picks = ranking(session, fair, now)
    pick = next((p for p in picks if p.producer_id == c.producer_id), None)
    facts = {"rank": pick.rank, "score": pick.score, "parts": pick.parts} if pick else {}
    if pick is None or all(x.product_id != c.product_id for x in pick.products):
        best = ", ".join(x.product_name for x in pick.products) if pick else ""
        return {
            **facts,
            "outcome": "other_products_chosen",
            "message": f"the producer's better products for this fair come first ({best}); at most "
            f"{terms(fair).rules.max_products_per_producer} per producer",
        }
    if fair.status in ("draft", "published"):
        decision = next(d for d in matching.select(picks, terms(fair)) if d.pick is pick)
        words = {
            "issue": "would be invited",
            "waitlist": f"would be waitlisted ({decision.hold})",
            "below_cut": f"would rank below the cut ({decision.hold})",
        }[decision.outcome]
        return {
            **facts,
            "outcome": {"issue": "would_be_invited", "waitlist": "would_be_waitlisted", "below_cut": "below_cut"}[
                decision.outcome
            ],
            "message": f"{words}: rank {pick.rank} of {len(picks)}, score {pick.score}",
        }
    lowest = session.execute(
        select(Invitation.rank, Invitation.score)
        .where(Invitation.fair_id == fair.id, Invitation.status.in_(("issued", "accepted", "declined", "expired")))
        .order_by(Invitation.score, Invitation.rank.desc())
        .limit(1)
    ).first()
    cut = {"rank": lowest[0], "score": lowest[1]} if lowest else None
    if cut and pick.score < cut["score"]:
        message = (
            f"ranked below the cut: score {pick.score} (rank {pick.rank} of {len(picks)} today) against "
            f"{cut['score']} for the last producer invited"
        )
    else:
        message = (
            f"eligible now with score {pick.score} (rank {pick.rank} of {len(picks)}), but it was not among "
            f"the candidates when invitations went out (certified or changed since, or beyond the "
            f"waitlist); a top-up or a refill of the waitlist can still invite it"
        )
    return {**facts, "outcome": "below_cut", "cut": cut, "message": message}
