"""Season planning: match a whole season of fairs at once, spreading invitations across producers
and regions instead of filling each fair greedily, and report the spread. Plain Python, no Flask
or SQLAlchemy, unit-tested alone.

Matching one fair at a time fills it with the best of its ranking; the national fairs of a year
then all invite the same few hundred 4★ and 5★ producers, and most producers are never invited.
A season plan shares the fairs out instead, like a draft:

1. every fair ranks its eligible producers by its own rules and score (``matching``: stars,
   freshness, the last 12 months, regional policy, quota fit): its *standing*;
2. the fairs take turns in date order (first day, last day, id). In each round every fair with
   room takes one producer: among those it may invite — its rules and quotas, its booths, its
   per-producer caps, not busy at an overlapping fair accepted elsewhere, not invited to another
   overlapping staffed fair of the season — one of those with the fewest invitations so far in
   the season, and among those the best in its standing;
3. rounds go on until no fair can take anyone more;
4. each fair's waitlist is then filled in the same order (fewest invitations in the season, then
   standing), leaving out producers invited to an overlapping fair (they could not accept).

So nobody gets a second invitation while a fair could still invite someone eligible with none,
and within that, each fair still gets the best producers its rules and score prefer. Ties fall
to the standing, whose own ties fall to the producer id: the same data always gives the same plan.
Every choice keeps the round, its place and score in the fair's standing and the invitations the
producer already had in the season, which become the invitation's reasons.

The report (``spread``) compares the plan with what matching each fair on its own would give
(``greedy``): invitations per producer, share of eligible producers invited at least once, Gini
coefficient of invitations per eligible producer, invitations by region and by province (with
each one's share of its eligible producers invited), fill of each fair, and producers invited to
two overlapping fairs.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field

from ..matching import Decision, FairTerms, Load, Pick, Ranking, hold_reason, overlaps, select


@dataclass(frozen=True, slots=True)
class Choice:
    """One producer for one fair in the plan."""

    fair_id: str
    producer_id: str
    outcome: str  # issue or waitlist
    order: int  # 1-based place in the fair's season order: the invitation's rank
    place: int  # 0-based place in the fair's own standing
    score: float
    group: int
    booths: int
    prior: int  # invitations the producer already had in the season when chosen
    round: int  # the round it was chosen in (0: waitlisted after the rounds)
    hold: str | None = None


@dataclass
class Plan:
    fairs: list[FairTerms]  # in season order
    choices: dict[str, list[Choice]]  # per fair: invitations, then the waitlist
    greedy: dict[str, list[str]]  # per fair: whom matching it alone would invite
    ranked: dict[str, int]  # per fair: producers in its standing
    eligible: set[str]  # producers eligible for at least one fair
    clashes: dict[str, frozenset[str]]  # per fair: overlapping staffed fairs of the season
    rounds: int = 0

    def issued(self) -> dict[str, list[str]]:
        return {f: [c.producer_id for c in cs if c.outcome == "issue"] for f, cs in self.choices.items()}

    def counts(self, fair_id: str) -> Counter:
        return Counter(c.outcome for c in self.choices[fair_id])


def season_order(fairs: Iterable[FairTerms]) -> list[FairTerms]:
    return sorted(fairs, key=lambda f: (f.starts_on, f.ends_on, f.fair_id))


def clashes(fairs: Sequence[FairTerms]) -> dict[str, frozenset[str]]:
    """For each fair, the season's other fairs a producer could not attend as well (staffed, dates meeting)."""
    return {
        f.fair_id: frozenset(
            g.fair_id
            for g in fairs
            if g.fair_id != f.fair_id and overlaps(f.kind, (f.starts_on, f.ends_on), g.kind, (g.starts_on, g.ends_on))
        )
        for f in fairs
    }


class _Turn:
    """One fair's state in the rounds: its load, and per season count the next place to look at."""

    def __init__(self, fair: FairTerms, ranking: Ranking, load: Load):
        self.fair, self.ranking, self.load = fair, ranking, load
        self.size = len(ranking)
        self.levels: dict[int, int] = {}
        self.closed = bytearray(self.size)  # places never to be invited here (taken, held, clashing)
        self.held: dict[int, str] = {}  # why a place was held back when its turn came
        self.choices: list[Choice] = []
        self.open = True

    def full(self) -> bool:
        load, fair = self.load, self.fair
        return load.accepted >= fair.capacity or load.accepted + load.issued >= fair.issue_limit


def plan(fairs: Sequence[FairTerms], rankings: Mapping[str, Ranking], loads: Mapping[str, Load] | None = None) -> Plan:
    """The season plan (see the module's docstring). ``rankings``: each fair's standing (busy
    producers already left out); ``loads``: what each fair already holds (none for a draft)."""
    fairs = season_order(fairs)
    clash = clashes(fairs)
    loads = loads or {}
    turns = [_Turn(f, rankings[f.fair_id], deepcopy(loads.get(f.fair_id)) or Load()) for f in fairs]
    count: dict[str, int] = {}
    invited_at: dict[str, list[str]] = {}
    top, rounds = 0, 0
    while any(t.open for t in turns):
        rounds += 1
        for t in turns:
            if not t.open:
                continue
            found = None if t.full() else _next(t, count, invited_at, clash[t.fair.fair_id], top)
            if found is None:
                t.open = False
                continue
            place, producer_id, group, booths, score = found
            prior = count.get(producer_id, 0)
            count[producer_id] = prior + 1
            top = max(top, prior + 1)
            invited_at.setdefault(producer_id, []).append(t.fair.fair_id)
            t.load.add_issued(group, booths)
            t.closed[place] = 1
            t.choices.append(
                Choice(
                    t.fair.fair_id, producer_id, "issue", len(t.choices) + 1, place, score, group, booths, prior, rounds
                )
            )
    for t in turns:
        _waitlist(t, count, invited_at, clash[t.fair.fair_id], top)
    eligible: set[str] = set()
    for t in turns:
        eligible.update(t.ranking.producer_ids)
    return Plan(
        fairs,
        {t.fair.fair_id: t.choices for t in turns},
        greedy(fairs, rankings, loads),
        {t.fair.fair_id: t.size for t in turns},
        eligible,
        clash,
        rounds - 1,
    )


def _clashing(producer_id: str, invited_at: dict[str, list[str]], clash: frozenset[str]) -> bool:
    return bool(clash) and any(f in clash for f in invited_at.get(producer_id, ()))


def _next(t: _Turn, count: dict[str, int], invited_at: dict[str, list[str]], clash: frozenset[str], top: int):
    """The fair's next producer: the fewest season invitations first, then its standing."""
    fair, load, entry, closed = t.fair, t.load, t.ranking.entry, t.closed
    for level in range(top + 1):
        place = t.levels.get(level, 0)
        while place < t.size:
            if not closed[place]:
                negated, producer_id, group, booths = entry(place)
                if count.get(producer_id, 0) == level:
                    hold = hold_reason(fair, load, group, booths)
                    if hold is None and not _clashing(producer_id, invited_at, clash):
                        t.levels[level] = place
                        return place, producer_id, group, booths, -negated
                    closed[place] = 1  # held or clashing now: for good, since loads only grow
                    if hold is not None:
                        t.held[place] = hold
            place += 1
        t.levels[level] = place
    return None


def _waitlist(
    t: _Turn, count: dict[str, int], invited_at: dict[str, list[str]], clash: frozenset[str], top: int
) -> None:
    taken = {c.place for c in t.choices}
    room, entry = t.fair.waitlist_size, t.ranking.entry
    for level in range(top + 1):
        for place in range(t.size):
            if len(t.choices) - len(taken) >= room:
                return
            if place in taken:
                continue
            negated, producer_id, group, booths = entry(place)
            if count.get(producer_id, 0) != level or _clashing(producer_id, invited_at, clash):
                continue
            hold = (
                t.held.get(place)
                or hold_reason(t.fair, t.load, group, booths)
                or "the season's other fairs took its turn"
            )
            t.choices.append(
                Choice(
                    t.fair.fair_id,
                    producer_id,
                    "waitlist",
                    len(t.choices) + 1,
                    place,
                    -negated,
                    group,
                    booths,
                    level,
                    0,
                    hold,
                )
            )


def greedy(
    fairs: Sequence[FairTerms], rankings: Mapping[str, Ranking], loads: Mapping[str, Load] | None = None
) -> dict[str, list[str]]:
    """Per fair, whom matching that fair alone would invite (``matching.select`` on its standing)."""
    loads = loads or {}
    out = {}
    for f in fairs:
        ranking = rankings[f.fair_id]
        decisions = select(ranking, f, deepcopy(loads.get(f.fair_id)) or Load())
        out[f.fair_id] = [ranking.entry(i)[1] for i, outcome in enumerate(decisions.walked) if outcome == "issue"]
    return out


# ---- the spread ----------------------------------------------------------------------------------
def gini(values: Iterable[int]) -> float:
    """Gini coefficient of non-negative counts: 0 when everyone has as many, towards 1 when a few hold all."""
    xs = sorted(values)
    total, n = sum(xs), len(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum(i * x for i, x in enumerate(xs, start=1))
    return round(2 * weighted / (n * total) - (n + 1) / n, 4)


@dataclass
class Spread:
    invitations: int
    producers_invited: int
    eligible_producers: int
    share_invited: float  # of the eligible producers, invited at least once
    gini: float  # over invitations per eligible producer (zeros included)
    most_invitations: int  # to one producer
    invitations_per_producer: dict[int, int]  # number of invitations -> producers with that many
    by_region: dict[str, dict]  # region -> invitations, producers invited, eligible, share
    by_province: dict[str, dict]
    fill: dict[str, float]  # invitations / booths to offer, over the fairs: min, median, max
    double_bookings: int  # producers invited to two overlapping staffed fairs
    per_fair: dict[str, int] = field(default_factory=dict)


def spread(issued: Mapping[str, Sequence[str]], p: Plan, homes: Mapping[str, tuple[str, str]]) -> Spread:
    """How a set of invitations (per fair, the producers invited) is spread. ``homes``: each
    eligible producer's (province, region)."""
    per_producer = Counter(pid for invited in issued.values() for pid in invited)
    eligible = p.eligible | set(per_producer)
    histogram = Counter(per_producer.get(pid, 0) for pid in eligible)
    areas: dict[str, dict[str, dict]] = {"province": {}, "region": {}}
    for pid in eligible:
        for kind, name in zip(("province", "region"), homes.get(pid, ("unknown", "unknown")), strict=True):
            row = areas[kind].setdefault(name, {"invitations": 0, "producers_invited": 0, "eligible": 0})
            row["eligible"] += 1
            row["invitations"] += per_producer.get(pid, 0)
            row["producers_invited"] += pid in per_producer
    for rows in areas.values():
        for row in rows.values():
            row["share_invited"] = round(row["producers_invited"] / row["eligible"], 4)
    fills = [len(issued.get(f.fair_id, ())) / f.issue_limit for f in p.fairs]
    clashing = {
        pid
        for f in p.fairs
        for other in p.clashes[f.fair_id]
        if other > f.fair_id
        for pid in set(issued.get(f.fair_id, ())) & set(issued.get(other, ()))
    }
    return Spread(
        invitations=sum(per_producer.values()),
        producers_invited=len(per_producer),
        eligible_producers=len(eligible),
        share_invited=round(len(per_producer) / len(eligible), 4) if eligible else 0.0,
        gini=gini(per_producer.get(pid, 0) for pid in eligible),
        most_invitations=max(per_producer.values(), default=0),
        invitations_per_producer=dict(sorted(histogram.items())),
        by_region=dict(sorted(areas["region"].items())),
        by_province=dict(sorted(areas["province"].items())),
        fill={"min": round(min(fills), 4), "median": round(statistics.median(fills), 4), "max": round(max(fills), 4)}
        if fills
        else {},
        double_bookings=len(clashing),
        per_fair={f: len(v) for f, v in issued.items()},
    )


# ---- the plan as invitations ---------------------------------------------------------------------
def decisions(p: Plan, fair_id: str, picks: Mapping[str, Pick], limit: int | None = None) -> list[Decision]:
    """The fair's choices (the first ``limit``) as ``matching.Decision`` for issuing invitations:
    each pick takes its season order as its rank, and the reasons it was chosen in the season."""
    out = []
    for c in p.choices[fair_id][:limit]:
        pick = picks[c.producer_id]
        pick.rank = c.order
        pick.reasons.append(reason(c, p.ranked[fair_id]))
        out.append(Decision(pick, c.outcome, c.hold))
    return out


def reason(c: Choice, ranked: int) -> str:
    before = {0: "no invitation", 1: "1 invitation"}.get(c.prior, f"{c.prior} invitations")
    if c.outcome == "issue":
        return (
            f"season plan: chosen in round {c.round} among the producers with the fewest invitations in the "
            f"season ({before} before this one); {c.place + 1} of {ranked} in this fair's ranking"
        )
    return (
        f"season plan: waitlisted at place {c.order} with {before} in the season; {c.place + 1} of {ranked} in "
        f"this fair's ranking"
    )
