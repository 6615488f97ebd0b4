"""Acting on a season plan: every fair published (if a draft) and inviting, in one transaction,
with the events of publishing each fair alone. Flush and emit, never commit."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from shared.errors import Invalid
from shared.instants import utc

from ..fairs import publish_fair, start_inviting
from . import planning as season
from .queries import describe, plan, season_fairs


def apply(
    session: Session,
    emit,
    fair_ids: list[str] | None = None,
    starts_from: date | None = None,
    starts_until: date | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> dict:
    """Plan the season and act on it: each fair, in season order, published if a draft
    (``events.fair.published``) and inviting (``events.fair.inviting``, ``events.invitation.issued``
    for each invitation; the waitlist silently), as publishing it alone would, in one transaction."""
    now = now or datetime.now(UTC)
    fairs = season_fairs(session, fair_ids, starts_from, starts_until, lock=True)
    for fair in fairs:
        if utc(fair.invitation_deadline) <= now:
            raise Invalid(
                f"the invitation deadline of {fair.name} ({fair.id}) has passed "
                f"({utc(fair.invitation_deadline).isoformat()})",
                field="fair_ids",
            )
    s = plan(session, fairs, now)
    for fair in s.fairs:
        decided = season.decisions(s.plan, fair.id, s.picks[fair.id])
        if fair.status == "draft":
            publish_fair(session, emit, fair.id, invite=False, now=now)
        start_inviting(session, emit, fair.id, now, decided)
    return describe(session, s, limit, applied=True, reasons_added=True)
