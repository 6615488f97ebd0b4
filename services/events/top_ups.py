"""Top-ups: a product newly certified while a fair is inviting, has room and tops up, gets its
producer an invitation at once. Flush, emit into the outbox, never commit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import matching, selection
from .invitations import issue, new_invitation
from .models import Fair, Invitation
from .queries import get_fair
from .standings import busy, history, load_of, rules_of, terms


def fairs_open_to_top_up(session: Session, now: datetime) -> list[Fair]:
    fairs = session.scalars(
        select(Fair).where(Fair.status == "inviting", Fair.invitation_deadline > now).order_by(Fair.id)
    )
    return [f for f in fairs if rules_of(f).top_up]


def top_up(
    session: Session, emit, product_ids: list[str], now: datetime | None = None, fairs: list[Fair] | None = None
) -> list[Invitation]:
    """Newly certified products: a fair still inviting, with room and top-up on, invites an eligible
    producer it has not invited yet, at once."""
    now = now or datetime.now(UTC)
    out = []
    for fair in fairs if fairs is not None else fairs_open_to_top_up(session, now):
        t = terms(fair)
        found = selection.candidates(session, t, product_ids=product_ids)
        if found:
            out += _top_up_fair(session, emit, fair.id, found, now)
    return out


def _top_up_fair(
    session: Session, emit, fair_id: str, found: list[matching.Candidate], now: datetime
) -> list[Invitation]:
    fair = get_fair(session, fair_id, lock=True)
    producers = sorted({c.producer_id for c in found})
    have = set(
        session.scalars(
            select(Invitation.producer_id).where(Invitation.fair_id == fair.id, Invitation.producer_id.in_(producers))
        )
    )
    producers = [p for p in producers if p not in have]
    if not producers:
        return []
    t = terms(fair)
    picks = matching.rank(
        selection.candidates(session, t, producer_ids=producers),
        t,
        history(session, fair, now, producers),
        busy(session, fair, producers),
    )
    out = []
    for pick in picks:
        if matching.hold_reason(t, load_of(session, fair.id), pick.group, pick.booths) is not None:
            continue
        last = session.scalar(select(func.max(Invitation.rank)).where(Invitation.fair_id == fair.id)) or 0
        pick.reasons.append("topped up: certified while the fair was inviting and had room")
        out.append(issue(session, emit, new_invitation(fair, pick, last + 1, "issued", None), fair, now))
    return out
