"""Ranking: one pick per producer (its best products for the fair), scored with visible parts,
best first; ``Ranking`` builds the picks only when read (see the package's docstring)."""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from operator import itemgetter

from ..eligibility import eligibility
from .picks import (  # noqa: F401  (importable from here as before)
    PARTS,
    Pick,
    fairness_points,
    quota_fit,
    region_relation,
)
from .terms import (
    FRESHNESS_HORIZON_DAYS,
    FRESHNESS_POINTS,
    STAR_POINTS,
    Candidate,
    FairTerms,
    History,
)

# ---- ranking ---------------------------------------------------------------------------------
NO_HISTORY = History()
NO_HISTORY_POINTS = fairness_points(NO_HISTORY)


def rank(
    candidates: Iterable[Candidate],
    fair: FairTerms,
    history: dict[str, History] | None = None,
    busy: dict[str, str] | None = None,
) -> Ranking:
    """Eligible producers, best first, each with its best products (deterministic order).

    ``history``: producer id -> its last 12 months; ``busy``: producer id -> why it cannot come
    (already exhibiting at an overlapping fair). Both default to empty. Checks every rule, then
    ranks as ``rank_rows`` does."""
    ok, busy = eligibility(fair), busy or {}
    chosen = [c for c in candidates if c.producer_id not in busy and ok(c)]
    known = {c.product_id: c for c in chosen}
    return rank_rows([row_of(c) for c in chosen], fair, history, None, lambda ids: {i: known[i] for i in ids})


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
    return (
        c.producer_id,
        c.product_id,
        c.group,
        c.region,
        c.stars if certified else 0,
        c.valid_until if certified else None,
    )


def rank_rows(
    rows: Iterable[Row],
    fair: FairTerms,
    history: dict[str, History] | None = None,
    busy: Iterable[str] | None = None,
    details: Details | None = None,
) -> Ranking:
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

    def __init__(
        self,
        fair: FairTerms,
        rows: Iterable[Row],
        history: dict[str, History],
        busy: Iterable[str],
        details: Details | None,
    ):
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
            values = (
                row[4] * STAR_POINTS,
                fresh[row[5]],
                NO_HISTORY_POINTS if h is None else fairness_points(h),
                weight[row[3]],
                fit[row[2]],
            )
            places.append(
                (
                    -round(sum(values), 3),
                    producer_id,
                    row[2],
                    min(most, 1 + products.get(producer_id, 0)) if most > 1 else 1,
                )
            )
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
            values = (
                best[4] * STAR_POINTS,
                fresh[best[5]],
                fairness_points(h),
                self._weight[best[3]],
                self.fit[best[2]],
            )
            self._picks[i] = Pick(
                producer_id,
                c.producer_name,
                c.region,
                c.group,
                [found[r[1]] for r in top],
                booths,
                -negated,
                values,
                (c, fair, h, region_relation(c.region, fair.region)),
                rank=i + 1,
            )
