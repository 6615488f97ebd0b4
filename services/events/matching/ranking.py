"""Matching products with a fair: eligibility, a score with visible parts, selection under the
fair's capacity and group quotas, the waitlist. Plain Python, no Flask or SQLAlchemy, unit-tested
alone.

Built for size: the database applies the fair's rules and hands over plain tuples of what the
score reads (``selection.rows``); ranking is a few passes over them and a heap of one place per
producer, and a pick with its products, parts and reasons is built only when read (``Ranking``),
so a fair against 200,000 products stays well under a second (bench/match.py) and a season of a
hundred fairs a matter of a minute and a few hundred megabytes (bench/season.py).

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

import heapq
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter

from .eligibility import admitted_as, eligibility, failures, why_not  # noqa: F401  (the rule, re-exported)

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
    provincial_key: bool = False     # designated a provincial key product (sản phẩm chủ lực cấp tỉnh)


@dataclass(frozen=True)
class Rules:
    """A fair's eligibility rules and matching policy (stored as JSON on the fair)."""

    min_stars: int = 3
    admit_uncertified: bool = False
    admit_provincial_key: bool = False   # Decision 950/QĐ-BCT: provincial key products, whatever their stars
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
                   admit_provincial_key=d.get("admit_provincial_key", False),
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


# ---- eligibility (the one rule: eligibility.py) -----------------------------------------------
def overlaps(kind_a: str, a: tuple[date, date], kind_b: str, b: tuple[date, date]) -> bool:
    """Two fairs keep a producer busy at once: both staffed (not showcase points) and their dates meet."""
    from .domain import LONG_RUNNING

    if kind_a in LONG_RUNNING or kind_b in LONG_RUNNING:
        return False
    return a[0] <= b[1] and b[0] <= a[1]


# ---- score -----------------------------------------------------------------------------------
def _product_points(c: Candidate, ends_on: date) -> tuple[float, float]:
    if c.status != "current" or c.valid_until is None:  # as ``row_of``
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
NO_HISTORY_POINTS = fairness_points(NO_HISTORY)


def rank(candidates: Iterable[Candidate], fair: FairTerms, history: dict[str, History] | None = None,
         busy: dict[str, str] | None = None) -> Ranking:
    """Eligible producers, best first, each with its best products (deterministic order).

    ``history``: producer id -> its last 12 months; ``busy``: producer id -> why it cannot come
    (already exhibiting at an overlapping fair). Both default to empty. Checks every rule, then
    ranks as ``rank_rows`` does."""
    ok, busy = eligibility(fair), busy or {}
    chosen = [c for c in candidates if c.producer_id not in busy and ok(c)]
    known = {c.product_id: c for c in chosen}
    return rank_rows([row_of(c) for c in chosen], fair, history, None,
                     lambda ids: {i: known[i] for i in ids})


# A row as ranking reads it: what the score needs and nothing more. The database hands these over
# with every rule of the fair already applied (``selection.rows``), as plain tuples:
#     (producer id, product id, group, region, stars, valid until)
# stars 0 and valid until None for a product never certified.
Row = tuple
# Full candidates by product id, for the picks that are read (a ranking of 100,000 producers reads
# the few hundred it invites, waitlists or shows).
Details = Callable[[list[str]], dict[str, Candidate]]
CHUNK = 256


def row_of(c: Candidate) -> Row:
    """A candidate as a ranking row: stars and validity count only for a current certificate (a
    provincial key product admitted with an expired one, or none, scores as an uncertified one)."""
    certified = c.status == "current" and c.valid_until is not None
    return (c.producer_id, c.product_id, c.group, c.region, c.stars if certified else 0,
            c.valid_until if certified else None)


def rank_rows(rows: Iterable[Row], fair: FairTerms, history: dict[str, History] | None = None,
              busy: Iterable[str] | None = None, details: Details | None = None) -> Ranking:
    """``rank`` on rows the database has already filtered by the fair's rules (see ``Ranking``)."""
    return Ranking(fair, rows, history or {}, busy or (), details)


class _Freshness(dict):
    """Freshness points by certificate end date, each date computed once (a catalogue has a few
    thousand dates for 200,000 products)."""

    def __init__(self, ends_on: date):
        super().__init__({None: 0.0})
        self.ends_on = ends_on

    def __missing__(self, valid_until: date) -> float:
        days = max(0, min((valid_until - self.ends_on).days, FRESHNESS_HORIZON_DAYS))
        points = self[valid_until] = round(days / FRESHNESS_HORIZON_DAYS * FRESHNESS_POINTS, 3)
        return points


class _Weights(dict):
    """The fair's regional weight by producer region, each region worked out once."""

    def __init__(self, fair: FairTerms):
        super().__init__()
        self.fair = fair
        self.weights = dict(zip(("host", "near", "far"), fair.rules.regional_weights, strict=True))

    def __missing__(self, region: str) -> float:
        weight = self[region] = self.weights[region_relation(region, self.fair.region)]
        return weight


FULL_SORT = 2048  # reading further than this beyond the places sorted so far sorts them all


class _Packed:
    """A ranking's places, sorted, in arrays: read back as (-score, producer id, group, booths)."""

    __slots__ = ("producer_ids", "negated", "groups", "booths")

    def __init__(self, order: list[tuple], names: dict[str, str] | None):
        ids = list(map(itemgetter(1), order))
        self.producer_ids = list(map(names.setdefault, ids, ids)) if names is not None else ids
        self.negated = array("d", map(itemgetter(0), order))
        self.groups = array("B", map(itemgetter(2), order))
        self.booths = array("B", map(itemgetter(3), order))

    def __len__(self) -> int:
        return len(self.producer_ids)

    def __getitem__(self, place: int) -> tuple[float, str, int, int]:
        return self.negated[place], self.producer_ids[place], self.groups[place], self.booths[place]


class Ranking(Sequence):
    """A fair's ranking: a sequence of ``Pick``, best first, equal to the list of them.

    Built for 200,000 rows (bench/match.py): one pass keeps each producer's first row and sets
    the others aside; one pass over those finds each producer's best product; one pass scores
    each producer. Places are entries ``(-score, producer id, group, booths)`` in a heap, popped
    in order as far as they are read (selection reads a few hundred; reading far sorts the rest).
    A ``Pick`` (products, parts, reasons) is built when its place is read, a chunk at a time
    with one ``details`` call, and kept. ``compact()`` drops the rows when no more picks will
    be built from them (season planning holds a hundred rankings); ``picks_for`` builds picks
    from rows given back."""

    def __init__(self, fair: FairTerms, rows: Iterable[Row], history: dict[str, History], busy: Iterable[str],
                 details: Details | None):
        rules = fair.rules
        self.fair, self.history, self._details = fair, history, details
        self._fresh = fresh = _Freshness(fair.ends_on)
        self._limit = rules.max_products_per_producer
        best: dict[str, Row] = {}
        extra: list[Row] = []
        first = best.setdefault
        for row in rows:
            if first(row[0], row) is not row:
                extra.append(row)
        for producer_id in busy:
            best.pop(producer_id, None)
        self._first, self._extra = dict(best), extra
        for row in extra:  # the best product: most points (stars, then freshness: under 10), lowest id
            top = best.get(row[0])
            if top is None or row[4] < top[4]:
                continue
            if row[4] > top[4] or (-fresh[row[5]], row[1]) < (-fresh[top[5]], top[1]):
                best[row[0]] = row
        self.fit = fit = quota_fit(rules, Counter([row[2] for row in best.values()]), len(best))
        self._weight = weight = _Weights(fair)
        most = min(rules.max_booths_per_producer, self._limit)
        products = Counter([row[0] for row in extra]) if most > 1 else {}
        past, places = history.get, []
        for producer_id, row in best.items():
            h = past(producer_id)
            values = (row[4] * STAR_POINTS, fresh[row[5]], NO_HISTORY_POINTS if h is None else fairness_points(h),
                      weight[row[3]], fit[row[2]])
            places.append((-round(sum(values), 3), producer_id, row[2],
                           min(most, 1 + products.get(producer_id, 0)) if most > 1 else 1))
        heapq.heapify(places)
        self._heap, self._order, self._places = places, [], None
        self._picks: dict[int, Pick] = {}

    # ---- places ----------------------------------------------------------------------------------
    def _grow(self, n: int) -> None:
        """Sort at least the first ``n`` places."""
        order, heap = self._order, self._heap
        if not heap:
            return
        if n - len(order) > FULL_SORT:
            heap.sort()
            order.extend(heap)
            heap.clear()
        else:
            pop = heapq.heappop
            while len(order) < n and heap:
                order.append(pop(heap))

    def entry(self, place: int) -> tuple[float, str, int, int]:
        """Place ``place`` (0-based) as (-score, producer id, group, booths)."""
        if place >= len(self._order):
            self._grow(place + 1)
        return self._order[place]

    def entries(self):
        """Every place in order, sorting as far as it is read."""
        place = 0
        while True:
            if place >= len(self._order):
                if not self._heap:
                    return
                self._grow(place + max(512, place))
            yield self._order[place]
            place += 1

    @property
    def producer_ids(self) -> list[str]:
        """Every ranked producer, best first (sorting them all)."""
        self._grow(len(self))
        if isinstance(self._order, _Packed):
            return self._order.producer_ids
        return [e[1] for e in self._order]

    def place_of(self, producer_id: str) -> int | None:
        """The 0-based place of a producer, or None when it is not ranked."""
        if self._places is None or len(self._places) < len(self):
            self._places = {e[1]: i for i, e in enumerate(self.entries())}
        return self._places.get(producer_id)

    def __len__(self) -> int:
        return len(self._order) + len(self._heap)

    # ---- picks -----------------------------------------------------------------------------------
    def __getitem__(self, index):
        if isinstance(index, slice):
            places = range(*index.indices(len(self)))
            if places:
                self._build(min(places), max(places) + 1)
            return [self._picks[i] for i in places]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("ranking index out of range")
        pick = self._picks.get(index)
        if pick is None:
            chunk = max(CHUNK, index // 2)  # reading on: bigger chunks, then the whole rest at once
            self._build(index, index + chunk if chunk <= FULL_SORT else len(self))
            pick = self._picks[index]
        return pick

    def __eq__(self, other):
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ranking({self.fair.fair_id!r}, {len(self)} producers)"

    def compact(self, names: dict[str, str] | None = None) -> None:
        """Sort every place and keep them packed (producer id, score, group, booths: about 18 bytes
        a place, the ids shared through ``names`` when given), forgetting the rows: picks already
        built stay, others need ``picks_for``. A season plan holds a hundred rankings like this."""
        self._grow(len(self))
        self._order = _Packed(self._order, names)
        self._first = self._extra = None
        self._places = None

    def _build(self, start: int, stop: int) -> None:
        stop = min(stop, len(self))
        self._grow(stop)
        todo = [i for i in range(start, stop) if i not in self._picks]
        if not todo:
            return
        if self._first is None:
            raise LookupError("the ranking was compacted: build its picks with picks_for")
        mine = {self._order[i][1]: [self._first[self._order[i][1]]] for i in todo}
        for row in self._extra:  # a scan without allocations: cheaper than an index of every producer's rows
            if row[0] in mine:
                mine[row[0]].append(row)
        self._make(todo, mine)

    def picks_for(self, rows: Iterable[Row], places: dict[str, int] | None = None) -> dict[str, Pick]:
        """Picks of the producers whose rows are given (all the rows the fair admits of each, e.g.
        fetched again after ``compact``), by producer id; producers not ranked are left out.
        ``places``: their 0-based places when the caller knows them (else looked up)."""
        mine: dict[str, list[Row]] = {}
        for row in rows:
            mine.setdefault(row[0], []).append(row)
        where = places.get if places is not None else self.place_of
        found = sorted(i for i in (where(p) for p in mine) if i is not None)
        self._make([i for i in found if i not in self._picks], mine)
        return {self._order[i][1]: self._picks[i] for i in found}

    def _make(self, places: list[int], rows: dict[str, list[Row]]) -> None:
        fresh = self._fresh

        def points(row: Row) -> tuple:
            return -(row[4] * STAR_POINTS + fresh[row[5]]), row[1]

        tops = {}
        for i in places:
            mine = rows[self._order[i][1]]
            tops[i] = sorted(mine, key=points)[: self._limit] if len(mine) > 1 else mine
        wanted = [row[1] for top in tops.values() for row in top]
        found = self._details(wanted) if self._details else {}
        missing = [pid for pid in wanted if pid not in found]
        if missing:
            raise LookupError(f"no details for {len(missing)} ranked products, e.g. {missing[0]}")
        fair = self.fair
        for i, top in tops.items():
            negated, producer_id, _, booths = self._order[i]
            best, c = top[0], found[top[0][1]]
            h = self.history.get(producer_id, NO_HISTORY)
            values = (best[4] * STAR_POINTS, fresh[best[5]], fairness_points(h), self._weight[best[3]],
                      self.fit[best[2]])
            self._picks[i] = Pick(producer_id, c.producer_name, c.region, c.group, [found[r[1]] for r in top],
                                  booths, -negated, values, (c, fair, h, region_relation(c.region, fair.region)),
                                  rank=i + 1)


def reasons(top: Candidate, fair: FairTerms, h: History, relation: str) -> list[str]:
    how = admitted_as(top, fair)
    if how == "provincial_key":
        out = [f"{top.product_name}: a provincial key product, which the fair admits whatever its stars"]
    elif how == "potential_ocop":
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


class Decision:
    """One place of a ranking after selection: issue, waitlist or below_cut, and why it was held."""

    __slots__ = ("outcome", "hold", "_pick", "_picks", "_place")

    def __init__(self, pick: Pick | None, outcome: str, hold: str | None = None, picks: Sequence | None = None,
                 place: int = 0):
        self.outcome, self.hold, self._pick, self._picks, self._place = outcome, hold, pick, picks, place

    @property
    def pick(self) -> Pick:
        if self._pick is None:
            self._pick = self._picks[self._place]  # built when read (see Ranking)
        return self._pick

    def __repr__(self) -> str:
        return f"Decision({self.outcome!r}, place={self._place if self._pick is None else self._pick.rank})"


class Decisions(Sequence):
    """``select``'s answer, a sequence of ``Decision`` in ranking order (equal to the list of them).
    Only the places up to the cut are stored; every place after it is below the cut, beyond the
    waitlist. Iterating builds no pick until one is read; a slice builds the picks it holds."""

    def __init__(self, picks: Sequence, outcomes: list[str], holds: list[str | None], beyond: str):
        self.picks, self._outcomes, self._holds, self._beyond = picks, outcomes, holds, beyond

    @property
    def walked(self) -> list[str]:
        """The outcomes of the places up to the cut (every later one is below it)."""
        return self._outcomes

    def __len__(self) -> int:
        return len(self.picks)

    def _decision(self, i: int, pick: Pick | None = None) -> Decision:
        if i < len(self._outcomes):
            return Decision(pick, self._outcomes[i], self._holds[i], self.picks, i)
        return Decision(pick, "below_cut", self._beyond, self.picks, i)

    def __getitem__(self, index):
        if isinstance(index, slice):
            places = range(*index.indices(len(self)))
            picks = self.picks[index]
            return [self._decision(i, p) for i, p in zip(places, picks, strict=True)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("decision index out of range")
        return self._decision(index)

    def __iter__(self):
        return (self._decision(i) for i in range(len(self)))

    def __eq__(self, other):
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and [(d.pick, d.outcome, d.hold) for d in self] == \
                [(d.pick, d.outcome, d.hold) for d in other]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def count_of(self, outcome: str) -> int:
        below = len(self) - len(self._outcomes)
        return self._outcomes.count(outcome) + (below if outcome == "below_cut" else 0)


def select(picks: Sequence[Pick], fair: FairTerms, load: Load | None = None) -> Decisions:
    """Walk the ranking: invite while booths and quotas allow, waitlist the next ``waitlist_size``
    (those held back by a quota keep their rank there), and leave the rest below the cut.

    The walk stops at the cut (no booth left to offer, no waitlist place): everyone after it is
    below the cut. On a ``Ranking`` it reads only each place's group and booths."""
    load = load or Load()
    if isinstance(picks, Ranking):
        places = ((e[2], e[3]) for e in picks.entries())
    else:
        places = ((p.group, p.booths) for p in picks)
    size, limit = fair.waitlist_size, fair.issue_limit
    outcomes: list[str] = []
    holds: list[str | None] = []
    waiting = 0
    for group, n in places:
        if waiting >= size and load.accepted + load.issued >= limit:
            break  # no booth left to offer, no waitlist place
        hold = hold_reason(fair, load, group, n)
        if hold is None:
            load.add_issued(group, n)
            outcomes.append("issue")
        elif waiting < size:
            waiting += 1
            outcomes.append("waitlist")
        else:
            outcomes.append("below_cut")
        holds.append(hold)
    return Decisions(picks, outcomes, holds, f"beyond the waitlist of {size}")


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
