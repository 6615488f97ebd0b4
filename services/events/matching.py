"""Matching products with a fair: eligibility, a score with visible parts, selection under the
fair's capacity and group quotas, the waitlist. Plain Python, no Flask or SQLAlchemy, unit-tested
alone.

Built for size: the database filters what is cheap to filter (status, stars, groups, areas, kinds,
validity: see ``operations.candidates``) and hands plain ``Candidate`` tuples here; everything
below is one pass over them plus a sort of one pick per producer, so a fair against 200,000
products, or a season of fairs against the same list, stays a matter of seconds and megabytes.

The score of a producer's pick (its best products for the fair):

==========  =======================================================================================
part        points
==========  =======================================================================================
stars       10 per star of its best product (an uncertified "potential OCOP" product: 0)
freshness   up to 5: how long the best product's certificate stays valid after the fair (3 years: 5)
fairness    15 / (1 + invitations + exhibitions in the last 12 months): the less a producer has been
            invited or has exhibited, the higher
region      the fair's regional policy: points for the host region, a neighbouring region, a far one
quota_fit   up to 10: 10 × (the group's quota share / the group's share of the eligible producers),
            capped at 10; a group without a quota scores 10
==========  =======================================================================================

Ties are broken by producer id, so the same data always gives the same ranking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

STAR_POINTS = 10.0
FRESHNESS_POINTS = 5.0
FRESHNESS_HORIZON_DAYS = 1095
FAIRNESS_POINTS = 15.0
QUOTA_POINTS = 10.0
DEFAULT_REGIONAL_WEIGHTS = {"host": 6.0, "near": 3.0, "far": 0.0}

# Which socio-economic regions border which (for the regional policy's "near").
NEIGHBOURS = {
    "northern_midlands_mountains": {"red_river_delta", "north_central_coast"},
    "red_river_delta": {"northern_midlands_mountains", "north_central_coast"},
    "north_central_coast": {"northern_midlands_mountains", "red_river_delta", "central_highlands", "southeast"},
    "central_highlands": {"north_central_coast", "southeast"},
    "southeast": {"north_central_coast", "central_highlands", "mekong_delta"},
    "mekong_delta": {"southeast"},
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One product as matching sees it (a row of the events service's read model)."""

    product_id: str
    product_name: str
    producer_id: str
    producer_name: str
    producer_kind: str
    group: int
    province: str
    region: str
    stars: int
    valid_until: date | None
    status: str = "current"          # current, revoked, expired, or uncertified (never certified)
    subgroup: str | None = None
    potential_five_star: bool = False


@dataclass(frozen=True)
class Rules:
    """A fair's eligibility rules and matching policy (stored as JSON on the fair)."""

    min_stars: int = 3
    admit_uncertified: bool = False
    groups: tuple[int, ...] = ()
    subgroups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    producer_kinds: tuple[str, ...] = ()
    valid_through_end: bool = True
    max_products_per_producer: int = 3
    max_booths_per_producer: int = 1
    group_quotas: tuple[tuple[int, float], ...] = ()   # (group, largest share of the booths)
    regional_weights: tuple[float, float, float] = (DEFAULT_REGIONAL_WEIGHTS["host"], DEFAULT_REGIONAL_WEIGHTS["near"],
                                                    DEFAULT_REGIONAL_WEIGHTS["far"])
    overbooking_percent: int = 0
    waitlist_size: int | None = None
    top_up: bool = True

    @classmethod
    def from_dict(cls, d: dict | None) -> Rules:
        d = d or {}
        weights = {**DEFAULT_REGIONAL_WEIGHTS, **(d.get("regional_weights") or {})}
        return cls(min_stars=d.get("min_stars", 3), admit_uncertified=d.get("admit_uncertified", False),
                   groups=tuple(d.get("groups") or ()), subgroups=tuple(d.get("subgroups") or ()),
                   regions=tuple(d.get("regions") or ()), provinces=tuple(d.get("provinces") or ()),
                   producer_kinds=tuple(d.get("producer_kinds") or ()),
                   valid_through_end=d.get("valid_through_end", True),
                   max_products_per_producer=d.get("max_products_per_producer", 3),
                   max_booths_per_producer=d.get("max_booths_per_producer", 1),
                   group_quotas=tuple(sorted((int(g), float(s)) for g, s in (d.get("group_quotas") or {}).items())),
                   regional_weights=(float(weights["host"]), float(weights["near"]), float(weights["far"])),
                   overbooking_percent=d.get("overbooking_percent", 0), waitlist_size=d.get("waitlist_size"),
                   top_up=d.get("top_up", True))

    def quota(self, group: int) -> float | None:
        for g, share in self.group_quotas:
            if g == group:
                return share
        return None

    def admitted_groups(self) -> frozenset[int]:
        """Groups admitted at all: those listed, else those of the listed sub-groups, else every group."""
        if self.groups:
            return frozenset(self.groups)
        if self.subgroups:
            return frozenset(int(code.split(".")[0]) for code in self.subgroups)
        return frozenset()


@dataclass(frozen=True)
class FairTerms:
    """What matching needs to know of a fair."""

    fair_id: str
    kind: str
    starts_on: date
    ends_on: date
    region: str
    capacity: int
    rules: Rules = field(default_factory=Rules)

    @property
    def issue_limit(self) -> int:
        """Booths' worth of invitations out at once: the capacity, plus the overbooking allowance."""
        return self.capacity * (100 + self.rules.overbooking_percent) // 100

    def group_limit(self, group: int, of: int | None = None) -> int | None:
        share = self.rules.quota(group)
        return None if share is None else int(share * (self.capacity if of is None else of) + 1e-9)

    @property
    def waitlist_size(self) -> int:
        return self.rules.waitlist_size if self.rules.waitlist_size is not None else max(20, 2 * self.capacity)


@dataclass(frozen=True, slots=True)
class History:
    """A producer's last 12 months: invitations received and fairs exhibited at."""

    invited: int = 0
    exhibited: int = 0


PARTS = ("stars", "freshness", "fairness", "region", "quota_fit")


class Pick:
    """One producer's place in a ranking: its best products, booths, score, parts and reasons.

    The parts (a dict) and the reasons (sentences) are built when first read: a ranking of 100,000
    producers reads them for the few hundred it invites or shows, not for all."""

    __slots__ = ("producer_id", "producer_name", "region", "group", "products", "booths", "score", "rank",
                 "_values", "_context", "_parts", "_reasons")

    def __init__(self, producer_id: str, producer_name: str, region: str, group: int, products: list[Candidate],
                 booths: int, score: float, values: tuple, context: tuple | None = None, rank: int = 0):
        self.producer_id, self.producer_name, self.region, self.group = producer_id, producer_name, region, group
        self.products, self.booths, self.score, self.rank = products, booths, score, rank
        self._values, self._context, self._parts, self._reasons = values, context, None, None

    @property
    def parts(self) -> dict:
        if self._parts is None:
            self._parts = dict(zip(PARTS, self._values, strict=True))
        return self._parts

    @property
    def reasons(self) -> list[str]:
        if self._reasons is None:
            self._reasons = reasons(*self._context) if self._context else []
        return self._reasons

    def __repr__(self) -> str:
        return f"Pick({self.producer_id!r}, rank={self.rank}, score={self.score})"


# ---- eligibility -----------------------------------------------------------------------------
def failures(c: Candidate, rules: Rules, starts_on: date, ends_on: date) -> list[tuple[str, str]]:
    """Every rule the candidate fails, as (rule, words); empty when eligible."""
    out = []
    if c.status == "uncertified":
        if not rules.admit_uncertified:
            out.append(("admit_uncertified", "the product is not certified OCOP and the fair admits only "
                                             "certified products"))
    elif c.status != "current":
        out.append(("status", f"certificate is {c.status}"))
    elif c.stars < rules.min_stars:
        out.append(("min_stars", f"{c.stars}★ is below the fair's minimum of {rules.min_stars}★"))
    admitted = rules.admitted_groups()
    if admitted and c.group not in admitted:
        out.append(("groups", f"group {c.group} is not admitted"))
    elif rules.subgroups:
        own = [code for code in rules.subgroups if code.split(".")[0] == str(c.group)]
        if own and c.subgroup not in own:
            out.append(("subgroups", f"sub-group {c.subgroup or 'not recorded'} is not admitted "
                                     f"(group {c.group} admits {', '.join(own)})"))
    area = _area_failure(c, rules)
    if area:
        out.append(area)
    if rules.producer_kinds and c.producer_kind not in rules.producer_kinds:
        out.append(("producer_kinds", f"producer kind {c.producer_kind} is not admitted"))
    if c.status == "current" and c.valid_until is not None:
        if rules.valid_through_end and c.valid_until < ends_on:
            out.append(("valid_through_end", f"certificate expires {c.valid_until.isoformat()}, before the fair "
                                             f"ends on {ends_on.isoformat()}"))
        elif c.valid_until < starts_on:
            out.append(("valid_through_end", f"certificate expires {c.valid_until.isoformat()}, before the fair "
                                             f"starts on {starts_on.isoformat()}"))
    return out


def _area_failure(c: Candidate, rules: Rules) -> tuple[str, str] | None:
    """Source provinces or regions: a product from any listed province or any listed region is admitted."""
    if not rules.provinces and not rules.regions:
        return None
    if c.province in rules.provinces or c.region in rules.regions:
        return None
    if rules.provinces and rules.regions:
        return ("provinces_or_regions", f"province {c.province} ({c.region}) is in neither the admitted provinces "
                                        f"nor the admitted regions")
    if rules.provinces:
        return ("provinces", f"province {c.province} is not admitted")
    return ("regions", f"region {c.region} is not admitted")


def why_not(c: Candidate, rules: Rules, fair_ends_on: date, fair_starts_on: date | None = None) -> list[str]:
    """Every rule the candidate fails, in words (empty when eligible)."""
    return [words for _, words in failures(c, rules, fair_starts_on or fair_ends_on, fair_ends_on)]


def overlaps(kind_a: str, a: tuple[date, date], kind_b: str, b: tuple[date, date]) -> bool:
    """Two fairs keep a producer busy at once: both staffed (not showcase points) and their dates meet."""
    from .domain import LONG_RUNNING

    if kind_a in LONG_RUNNING or kind_b in LONG_RUNNING:
        return False
    return a[0] <= b[1] and b[0] <= a[1]


# ---- score -----------------------------------------------------------------------------------
def _product_points(c: Candidate, ends_on: date) -> tuple[float, float]:
    if c.status == "uncertified" or c.valid_until is None:
        return 0.0, 0.0
    days = max(0, min((c.valid_until - ends_on).days, FRESHNESS_HORIZON_DAYS))
    return c.stars * STAR_POINTS, round(days / FRESHNESS_HORIZON_DAYS * FRESHNESS_POINTS, 3)


def region_relation(producer_region: str, host_region: str) -> str:
    if producer_region == host_region:
        return "host"
    return "near" if producer_region in NEIGHBOURS.get(host_region, ()) else "far"


def fairness_points(h: History) -> float:
    return round(FAIRNESS_POINTS / (1 + h.invited + h.exhibited), 3)


def quota_fit(rules: Rules, demand: Counter, total: int) -> dict[int, float]:
    """Points per group: groups under a quota score less the more their demand exceeds it."""
    fit = {}
    for group, count in demand.items():
        share = rules.quota(group)
        if share is None or total == 0:
            fit[group] = QUOTA_POINTS
        else:
            fit[group] = round(min(1.0, share / (count / total)) * QUOTA_POINTS, 3)
    return fit


# ---- ranking ---------------------------------------------------------------------------------
NO_HISTORY = History()


def eligibility(fair: FairTerms):
    """A fast predicate equal to ``not failures(c, ...)`` (a unit test holds the two to each other):
    ranking calls it once per product, 200,000 times for a big catalogue."""
    r = fair.rules
    min_stars, uncertified, admitted = r.min_stars, r.admit_uncertified, r.admitted_groups()
    subgroups: dict[int, frozenset[str]] = {}
    for code in r.subgroups:
        group = int(code.split(".")[0])
        subgroups[group] = subgroups.get(group, frozenset()) | {code}
    provinces, regions, kinds = frozenset(r.provinces), frozenset(r.regions), frozenset(r.producer_kinds)
    area = bool(provinces or regions)
    until = fair.ends_on if r.valid_through_end else fair.starts_on

    def ok(c: Candidate) -> bool:
        if c.status == "current":
            if c.stars < min_stars or (c.valid_until is not None and c.valid_until < until):
                return False
        elif c.status != "uncertified" or not uncertified:
            return False
        if admitted and c.group not in admitted:
            return False
        own = subgroups.get(c.group)
        if own and c.subgroup not in own:
            return False
        if area and c.province not in provinces and c.region not in regions:
            return False
        return not kinds or c.producer_kind in kinds

    return ok


def rank(candidates: Iterable[Candidate], fair: FairTerms, history: dict[str, History] | None = None,
         busy: dict[str, str] | None = None) -> list[Pick]:
    """Eligible producers, best first, each with its best products (deterministic order).

    ``history``: producer id -> its last 12 months; ``busy``: producer id -> why it cannot come
    (already exhibiting at an overlapping fair). Both default to empty. One pass over the
    candidates on plain tuples, then one sort of one pick per producer."""
    history, busy, rules = history or {}, busy or {}, fair.rules
    ok = eligibility(fair)
    by_producer: dict[str, list[tuple[float, float, float, Candidate]]] = {}
    for c in candidates:
        if c.producer_id in busy or not ok(c):
            continue
        stars, fresh = _product_points(c, fair.ends_on)
        scored = by_producer.get(c.producer_id)
        if scored is None:
            by_producer[c.producer_id] = [(stars + fresh, stars, fresh, c)]
        else:
            scored.append((stars + fresh, stars, fresh, c))
    limit = rules.max_products_per_producer
    for scored in by_producer.values():
        if len(scored) > 1:
            scored.sort(key=lambda t: (-t[0], t[3].product_id))
            del scored[limit:]
    demand = Counter(scored[0][3].group for scored in by_producer.values())
    fit = quota_fit(rules, demand, len(by_producer))
    weights = dict(zip(("host", "near", "far"), rules.regional_weights, strict=True))
    max_booths, picks = rules.max_booths_per_producer, []
    for producer_id, scored in by_producer.items():
        _, stars, fresh, top = scored[0]
        h = history.get(producer_id, NO_HISTORY)
        relation = region_relation(top.region, fair.region)
        values = (stars, fresh, fairness_points(h), weights[relation], fit[top.group])
        picks.append(Pick(producer_id, top.producer_name, top.region, top.group, [t[3] for t in scored],
                          min(max_booths, len(scored)), round(sum(values), 3), values, (top, fair, h, relation)))
    picks.sort(key=lambda p: (-p.score, p.producer_id))
    for n, p in enumerate(picks, start=1):
        p.rank = n
    return picks


def reasons(top: Candidate, fair: FairTerms, h: History, relation: str) -> list[str]:
    if top.status == "uncertified":
        out = [f"{top.product_name}: not yet certified (potential OCOP), which the fair admits"]
    else:
        out = [f"{top.product_name}: {top.stars}★, meets every rule of the fair",
               f"certificate valid until {top.valid_until.isoformat()}"]
    if h.invited or h.exhibited:
        out.append(f"invited {h.invited} and exhibited {h.exhibited} times in the last 12 months")
    else:
        out.append("not invited to any fair in the last 12 months")
    where = {"host": "the host region", "near": "a neighbouring region", "far": "a far region"}[relation]
    out.append(f"from {where} ({top.region})")
    share = fair.rules.quota(top.group)
    if share is not None:
        out.append(f"group {top.group} may take at most {share:.0%} of the booths")
    return out


# ---- selection -------------------------------------------------------------------------------
@dataclass
class Load:
    """Booths a fair has given (accepted) and promised (issued, not yet answered), in total and by group."""

    accepted: int = 0
    issued: int = 0
    accepted_by_group: Counter = field(default_factory=Counter)
    issued_by_group: Counter = field(default_factory=Counter)

    def add_issued(self, group: int, booths: int) -> None:
        self.issued += booths
        self.issued_by_group[group] += booths


def hold_reason(fair: FairTerms, load: Load, group: int, booths: int) -> str | None:
    """Why one more invitation of ``booths`` in ``group`` cannot go out now (None: it can)."""
    if load.accepted >= fair.capacity:
        return "every booth of the fair is taken"
    if load.accepted + load.issued + booths > fair.issue_limit:
        return f"the fair's {fair.capacity} booths are all offered"
    limit = fair.group_limit(group, fair.issue_limit)
    if limit is not None and load.accepted_by_group[group] + load.issued_by_group[group] + booths > limit:
        return f"group {group} has reached its quota of {fair.rules.quota(group):.0%} of the booths"
    return None


@dataclass
class Decision:
    pick: Pick
    outcome: str           # issue, waitlist, below_cut
    hold: str | None = None


def select(picks: list[Pick], fair: FairTerms, load: Load | None = None) -> list[Decision]:
    """Walk the ranking: invite while booths and quotas allow, waitlist the next ``waitlist_size``
    (those held back by a quota keep their rank there), and leave the rest below the cut."""
    load = load or Load()
    out, waiting, beyond = [], 0, f"beyond the waitlist of {fair.waitlist_size}"
    for p in picks:
        if waiting >= fair.waitlist_size and load.accepted + load.issued >= fair.issue_limit:
            out.append(Decision(p, "below_cut", beyond))  # no booth left to offer, no waitlist place
            continue
        hold = hold_reason(fair, load, p.group, p.booths)
        if hold is None:
            load.add_issued(p.group, p.booths)
            out.append(Decision(p, "issue"))
        elif waiting < fair.waitlist_size:
            waiting += 1
            out.append(Decision(p, "waitlist", hold))
        else:
            out.append(Decision(p, "below_cut", hold))
    return out


@dataclass(frozen=True)
class Waiting:
    """A waitlisted invitation, as promotion sees it."""

    invitation_id: str
    rank: int
    group: int
    booths: int


def next_to_promote(waitlist: Iterable[Waiting], fair: FairTerms, load: Load) -> Waiting | None:
    """The best-ranked waitlisted invitation that fits the booths and quotas left."""
    for w in sorted(waitlist, key=lambda w: w.rank):
        if hold_reason(fair, load, w.group, w.booths) is None:
            return w
    return None


def acceptance_refusal(fair: FairTerms, load: Load, group: int, booths: int) -> str | None:
    """Why an acceptance cannot get its booths (None: it can). ``load`` counts the invitation itself
    among the issued ones; only accepted booths count against capacity and quota here."""
    if load.accepted + booths > fair.capacity:
        return "every booth of the fair is taken"
    limit = fair.group_limit(group)
    if limit is not None and load.accepted_by_group[group] + booths > limit:
        return f"group {group} has reached its quota of {fair.rules.quota(group):.0%} of the booths"
    return None


def free_booths(capacity: int, used: Iterable[int], n: int) -> list[int]:
    """The ``n`` lowest booth numbers not in use (booths are numbered 1..capacity)."""
    taken = set(used)
    out = [b for b in range(1, capacity + 1) if b not in taken][:n]
    if len(out) < n:
        raise ValueError("not enough free booths")
    return out
