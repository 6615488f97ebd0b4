"""Matching on the read model: a fair's terms, its producers' history and clashes, its ranking and
what is promised of its booths; the pure rules are ``matching``, the SQL selection ``selection``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import domain, matching, selection
from .models import Fair, Invitation

HISTORY_DAYS = 365


def rules_of(fair: Fair) -> matching.Rules:
    return matching.Rules.from_dict(fair.rules)


def terms(fair: Fair) -> matching.FairTerms:
    return matching.FairTerms(
        fair.id, fair.kind, fair.starts_on, fair.ends_on, fair.region, fair.capacity, rules_of(fair)
    )


def history(
    session: Session, fair: Fair, now: datetime, producer_ids: list[str] | None = None
) -> dict[str, matching.History]:
    """Per producer, the last 12 months: invitations actually offered (issued, then answered or
    not) and fairs exhibited at (accepted), in any fair but this one that was not cancelled."""
    offered = Invitation.status.in_(("issued", "accepted", "declined", "expired"))
    q = (
        select(Invitation.producer_id, func.count(), func.sum(case((Invitation.status == "accepted", 1), else_=0)))
        .join(Fair, Fair.id == Invitation.fair_id)
        .where(
            offered,
            Invitation.fair_id != fair.id,
            Fair.status != "cancelled",
            Invitation.created_at >= now - timedelta(days=HISTORY_DAYS),
        )
        .group_by(Invitation.producer_id)
    )
    if producer_ids is not None:
        q = q.where(Invitation.producer_id.in_(producer_ids))
    return {pid: matching.History(invited, int(exhibited or 0)) for pid, invited, exhibited in session.execute(q)}


def busy(session: Session, fair: Fair, producer_ids: list[str] | None = None) -> dict[str, str]:
    """Producers already accepted at another staffed fair on overlapping dates: never double-booked."""
    if fair.kind in domain.LONG_RUNNING:
        return {}
    q = (
        select(Invitation.producer_id, Fair.name, Fair.starts_on, Fair.ends_on)
        .join(Fair, Fair.id == Invitation.fair_id)
        .where(
            Invitation.status == "accepted",
            Fair.id != fair.id,
            Fair.status != "cancelled",
            Fair.kind.not_in(sorted(domain.LONG_RUNNING)),
            Fair.starts_on <= fair.ends_on,
            Fair.ends_on >= fair.starts_on,
        )
    )
    if producer_ids is not None:
        q = q.where(Invitation.producer_id.in_(producer_ids))
    return {
        pid: f"already exhibiting at {name} ({start.isoformat()} to {end.isoformat()}), which overlaps this fair"
        for pid, name, start, end in session.execute(q)
    }


def ranking(session: Session, fair: Fair, now: datetime) -> matching.Ranking:
    """The fair's ranking on the whole read model: the rules applied in SQL, picks built when read
    (see ``selection``)."""
    return selection.ranking(session, terms(fair), history(session, fair, now), busy(session, fair))


def preview(session: Session, fair: Fair, now: datetime | None = None) -> list[matching.Decision]:
    """Who would be invited if the fair started inviting now, and who waitlisted; nothing is sent."""
    return matching.select(ranking(session, fair, now or datetime.now(UTC)), terms(fair))


def load_of(session: Session, fair_id: str) -> matching.Load:
    load = matching.Load()
    q = (
        select(Invitation.status, Invitation.group, func.sum(Invitation.booth_count))
        .where(Invitation.fair_id == fair_id, Invitation.status.in_(("issued", "accepted")))
        .group_by(Invitation.status, Invitation.group)
    )
    for status, group, booths in session.execute(q):
        if status == "accepted":
            load.accepted += booths
            load.accepted_by_group[group] += booths
        else:
            load.add_issued(group, booths)
    return load
