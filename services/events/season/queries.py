"""Season planning on the read model: the season's fairs, their standings, the plan (``planning``)
and its report. Reads only (applying a plan: ``operations``).

Built for a hundred fairs over 200,000 products (bench/season.py): each fair's standing is ranked
on the rows its rules admit and packed (``Ranking.compact``: about 18 bytes a place, producer ids
shared), its rows dropped before the next fair's are read; picks (products, parts, reasons) are
built afterwards only for the producers the plan chose, from their rows read again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Invalid

from .. import matching, selection
from ..models import CertifiedProduct, Fair, Invitation, ProducerView
from ..standings import busy, history, terms
from . import planning as season

PLANNABLE = ("draft", "published")
METHOD = (
    "Fairs take turns in date order. In each round every fair with room invites one producer: among "
    "those its rules, quotas, booths and caps admit, who are not busy at an overlapping fair nor invited "
    "to another overlapping staffed fair of the season, one with the fewest invitations so far in the "
    "season, and of those the best in the fair's own ranking (score, then producer id). Rounds go on "
    "until no fair can invite anyone more; then each fair's waitlist follows the same order. 'greedy' "
    "is each fair matched on its own."
)


def season_fairs(
    session: Session,
    fair_ids: list[str] | None = None,
    starts_from: date | None = None,
    starts_until: date | None = None,
    lock: bool = False,
) -> list[Fair]:
    """The fairs named (each draft or published), or every draft or published fair starting in the
    range; locked in id order when ``lock``."""
    if fair_ids is not None:
        q = select(Fair).where(Fair.id.in_(fair_ids))
    else:
        q = select(Fair).where(
            Fair.status.in_(PLANNABLE), Fair.starts_on >= starts_from, Fair.starts_on <= starts_until
        )
    q = q.order_by(Fair.id)
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    found = list(session.scalars(q))
    if fair_ids is None:
        if not found:
            raise Invalid(
                f"no draft or published fair starts between {starts_from.isoformat()} and {starts_until.isoformat()}",
                field="starts_from",
            )
        return found
    by_id = {f.id: f for f in found}
    for fair_id in fair_ids:
        fair = by_id.get(fair_id)
        if fair is None:
            raise Invalid(f"no fair {fair_id}", field="fair_ids")
        if fair.status not in PLANNABLE:
            raise Invalid(
                f"{fair.name} ({fair.id}) is {fair.status}: a season plans draft or published fairs only",
                field="fair_ids",
            )
    return found


@dataclass
class Season:
    fairs: list[Fair]  # in season order
    plan: season.Plan
    picks: dict[str, dict[str, matching.Pick]]  # per fair, the producers chosen (as far as built)
    homes: dict[str, tuple[str, str]]  # eligible producers' province and region


def plan(session: Session, fairs: list[Fair], now: datetime, limit: int | None = None) -> Season:
    """Plan the season; build the picks of the first ``limit`` choices of each fair (all: None)."""
    past = history(session, fairs[0], now)  # the same for all: a fair to plan has no invitations
    details, names = selection.details(session), {}
    fair_terms, rankings = {}, {}
    for fair in fairs:
        t = fair_terms[fair.id] = terms(fair)
        ranking = matching.rank_rows(selection.rows(session, t), t, past, busy(session, fair), details)
        ranking.compact(names)
        rankings[fair.id] = ranking
    p = season.plan(list(fair_terms.values()), rankings)
    picks = {}
    for fair_id, choices in p.choices.items():
        chosen = {c.producer_id: c.place for c in choices[:limit]}
        rows = selection.rows(session, fair_terms[fair_id], producer_ids=sorted(chosen)) if chosen else []
        picks[fair_id] = rankings[fair_id].picks_for(rows, chosen)
    order = {t.fair_id: n for n, t in enumerate(p.fairs)}
    return Season(sorted(fairs, key=lambda f: order[f.id]), p, picks, homes(session, p.eligible))


def homes(session: Session, producer_ids: set[str]) -> dict[str, tuple[str, str]]:
    """Province and region of each producer (the producers read model over certificates' copies)."""
    cp, pr = CertifiedProduct, ProducerView
    out = {}
    for q in (
        select(cp.producer_id, cp.province, cp.region).distinct(),
        select(pr.producer_id, pr.province, pr.region),
    ):
        for producer_id, province, region in selection.fetch(session, q):
            if producer_id in producer_ids:
                out[producer_id] = (province, region)
    return out


def preview(
    session: Session,
    fair_ids: list[str] | None = None,
    starts_from: date | None = None,
    starts_until: date | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> dict:
    """The plan and its spread; nothing is written."""
    now = now or datetime.now(UTC)
    s = plan(session, season_fairs(session, fair_ids, starts_from, starts_until), now, limit)
    return describe(session, s, limit, applied=False)


def describe(session: Session, s: Season, limit: int, applied: bool, reasons_added: bool = False) -> dict:
    p = s.plan
    invitations = {}
    if applied:
        q = select(Invitation.fair_id, Invitation.producer_id, Invitation.id).where(
            Invitation.fair_id.in_([f.id for f in s.fairs])
        )
        invitations = {(f, pid): iid for f, pid, iid in session.execute(q)}
    fairs = []
    for fair in s.fairs:
        picks, counts = s.picks[fair.id], p.counts(fair.id)
        if not reasons_added:
            season.decisions(p, fair.id, picks, limit)
        fairs.append(
            {
                "fair_id": fair.id,
                "name": fair.name,
                "kind": fair.kind,
                "status": fair.status,
                "host_province": fair.host_province,
                "region": fair.region,
                "starts_on": fair.starts_on,
                "ends_on": fair.ends_on,
                "capacity": fair.capacity,
                "eligible_producers": p.ranked[fair.id],
                "invited": counts["issue"],
                "waitlisted": counts["waitlist"],
                "greedy_invited": len(p.greedy[fair.id]),
                "overlapping_fairs": sorted(p.clashes[fair.id]),
                "choices": [
                    _choice(c, picks[c.producer_id], s.homes, invitations.get((fair.id, c.producer_id)))
                    for c in p.choices[fair.id][:limit]
                ],
            }
        )
    return {
        "applied": applied,
        "method": METHOD,
        "rounds": p.rounds,
        "fairs": fairs,
        "spread": {
            "plan": _spread(season.spread(p.issued(), p, s.homes)),
            "greedy": _spread(season.spread(p.greedy, p, s.homes)),
        },
    }


def _spread(spread: season.Spread) -> dict:
    out = asdict(spread)
    out["invitations_per_producer"] = {str(k): v for k, v in spread.invitations_per_producer.items()}
    return out


def _choice(c: season.Choice, pick: matching.Pick, homes: dict, invitation_id: str | None) -> dict:
    province, region = homes.get(c.producer_id, (None, pick.region))
    return {
        "rank": c.order,
        "outcome": c.outcome,
        "hold": c.hold,
        "producer_id": c.producer_id,
        "producer_name": pick.producer_name,
        "province": province,
        "region": region,
        "group": c.group,
        "booths": c.booths,
        "score": c.score,
        "parts": pick.parts,
        "reasons": pick.reasons,
        "products": [{"product_id": x.product_id, "name": x.product_name, "stars": x.stars} for x in pick.products],
        "fair_rank": c.place + 1,
        "season_invitations_before": c.prior,
        "round": c.round,
        "invitation_id": invitation_id,
    }
