"""The fast ranking and selection (``matching.rank_rows``, ``Ranking``, ``Decisions``) give exactly
what the straightforward implementation they replaced gave: the same producers in the same order,
the same products, booths, scores, parts, reasons and decisions, on random catalogues and rules.

Pure: no database, no broker, no Flask.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from services.events import matching
from services.events.matching import Candidate, FairTerms, History, Load, Rules

STARTS, ENDS = date(2026, 3, 6), date(2026, 3, 10)
REGIONS = ["mekong_delta", "southeast", "red_river_delta", "central_highlands"]
PROVINCES = {
    "mekong_delta": "Vĩnh Long",
    "southeast": "Đồng Nai",
    "red_river_delta": "Hà Nội",
    "central_highlands": "Đắk Lắk",
}


# ---- the implementation before issue 4's benchmark, kept as the reference --------------------
def product_points(c: Candidate, ends_on: date) -> tuple[float, float]:
    if c.status != "current" or c.valid_until is None:  # as ``row_of``
        return 0.0, 0.0
    days = max(0, min((c.valid_until - ends_on).days, matching.FRESHNESS_HORIZON_DAYS))
    return c.stars * matching.STAR_POINTS, round(days / matching.FRESHNESS_HORIZON_DAYS * matching.FRESHNESS_POINTS, 3)


def reference_rank(candidates, fair, history=None, busy=None):
    history, busy, rules = history or {}, busy or {}, fair.rules
    ok = matching.eligibility(fair)
    by_producer: dict = {}
    for c in candidates:
        if c.producer_id in busy or not ok(c):
            continue
        stars, fresh = product_points(c, fair.ends_on)
        by_producer.setdefault(c.producer_id, []).append((stars + fresh, stars, fresh, c))
    limit = rules.max_products_per_producer
    for scored in by_producer.values():
        if len(scored) > 1:
            scored.sort(key=lambda t: (-t[0], t[3].product_id))
            del scored[limit:]
    demand = Counter(scored[0][3].group for scored in by_producer.values())
    fit = matching.quota_fit(rules, demand, len(by_producer))
    weights = dict(zip(("host", "near", "far"), rules.regional_weights, strict=True))
    picks = []
    for producer_id, scored in by_producer.items():
        _, stars, fresh, top = scored[0]
        h = history.get(producer_id, matching.NO_HISTORY)
        relation = matching.region_relation(top.region, fair.region)
        values = (stars, fresh, matching.fairness_points(h), weights[relation], fit[top.group])
        picks.append(
            matching.Pick(
                producer_id,
                top.producer_name,
                top.region,
                top.group,
                [t[3] for t in scored],
                min(rules.max_booths_per_producer, len(scored)),
                round(sum(values), 3),
                values,
                (top, fair, h, relation),
            )
        )
    picks.sort(key=lambda p: (-p.score, p.producer_id))
    for n, p in enumerate(picks, start=1):
        p.rank = n
    return picks


def reference_select(picks, fair, load=None):
    load = load or Load()
    out, waiting, beyond = [], 0, f"beyond the waitlist of {fair.waitlist_size}"
    for p in picks:
        if waiting >= fair.waitlist_size and load.accepted + load.issued >= fair.issue_limit:
            out.append((p.producer_id, "below_cut", beyond))
            continue
        hold = matching.hold_reason(fair, load, p.group, p.booths)
        if hold is None:
            load.add_issued(p.group, p.booths)
            out.append((p.producer_id, "issue", None))
        elif waiting < fair.waitlist_size:
            waiting += 1
            out.append((p.producer_id, "waitlist", hold))
        else:
            out.append((p.producer_id, "below_cut", hold))
    return out


# ---- random catalogues -------------------------------------------------------------------------
def catalogue(rnd: random.Random, producers: int, products: int) -> list[Candidate]:
    out = []
    for n in range(products):
        owner = n if n < producers else rnd.randrange(producers)
        region = REGIONS[owner % len(REGIONS)]
        status = rnd.choice(["current"] * 8 + ["uncertified", "revoked"])
        certified = status != "uncertified"
        out.append(
            Candidate(
                f"p{n:05d}",
                f"Sản phẩm {n}",
                f"P{owner:04d}",
                f"Hợp tác xã {owner}",
                rnd.choice(["cooperative", "household"]),
                rnd.choice([1, 1, 1, 2, 3]),
                PROVINCES[region],
                region,
                rnd.choice([3, 3, 4, 5]) if certified else 0,
                ENDS + timedelta(days=rnd.choice([-3, 0, 200, 900, 1500])) if certified else None,
                status,
                rnd.choice([None, "1.3", "1.1", "2.1"]),
                rnd.random() < 0.1,
            )
        )
    return out


def random_rules(rnd: random.Random) -> dict:
    return {
        "min_stars": rnd.choice([3, 3, 4]),
        "admit_uncertified": rnd.random() < 0.3,
        "groups": rnd.choice([[], [], [1, 2], [1, 3]]),
        "subgroups": rnd.choice([[], [], [], ["1.3"]]),
        "regions": rnd.choice([[], [], [], ["mekong_delta"]]),
        "provinces": rnd.choice([[], [], ["Hà Nội"]]),
        "valid_through_end": rnd.random() < 0.7,
        "max_products_per_producer": rnd.choice([1, 2, 3]),
        "max_booths_per_producer": rnd.choice([1, 1, 2]),
        "group_quotas": rnd.choice([{}, {"1": 0.6}, {"1": 0.5}]),
        "regional_weights": rnd.choice([{}, {"host": 0, "near": 2, "far": 8}]),
        "overbooking_percent": rnd.choice([0, 0, 20]),
        "waitlist_size": rnd.choice([None, 0, 3, 15]),
    }


def terms(rnd: random.Random) -> FairTerms:
    rules = random_rules(rnd)
    if rules["groups"] and rules["group_quotas"] and 1 not in rules["groups"]:
        rules["group_quotas"] = {}
    return FairTerms(
        "F",
        rnd.choice(["trade_fair", "showcase_point"]),
        STARTS,
        ENDS,
        rnd.choice(REGIONS),
        rnd.randint(1, 15),
        Rules.from_dict(rules),
    )


def described(picks) -> list[tuple]:
    return [
        (
            p.producer_id,
            p.rank,
            p.score,
            p.parts,
            p.booths,
            p.group,
            p.region,
            p.producer_name,
            [c.product_id for c in p.products],
            p.reasons,
        )
        for p in picks
    ]


@pytest.mark.parametrize("seed", range(40))
def test_ranking_and_selection_equal_the_reference(seed):
    rnd = random.Random(seed)
    cs = catalogue(rnd, rnd.randint(1, 60), rnd.randint(1, 200))
    fair = terms(rnd)
    history = {f"P{k:04d}": History(rnd.randint(0, 3), rnd.randint(0, 2)) for k in rnd.sample(range(60), 15)}
    busy = {f"P{k:04d}": "already exhibiting" for k in rnd.sample(range(60), 5)}
    expected = reference_rank(cs, fair, history, busy)
    got = matching.rank(cs, fair, history, busy)
    assert described(got) == described(expected)
    load = Load(accepted=rnd.randint(0, 3))
    decisions = matching.select(got, fair, Load(accepted=load.accepted))
    assert [(d.pick.producer_id, d.outcome, d.hold) for d in decisions] == reference_select(
        expected, fair, Load(accepted=load.accepted)
    )
    again = matching.select(list(matching.rank(cs, fair, history, busy)), fair, Load(accepted=load.accepted))
    assert [(d.outcome, d.hold) for d in again] == [(d.outcome, d.hold) for d in decisions]  # a plain list too


def test_rows_from_the_database_rank_as_candidates_do():
    rnd = random.Random(11)
    cs = catalogue(rnd, 80, 300)
    fair = terms(random.Random(5))
    ok = matching.eligibility(fair)
    known = {c.product_id: c for c in cs}
    calls = []

    def details(ids):
        calls.append(len(ids))
        return {i: known[i] for i in ids}

    rows = [matching.row_of(c) for c in cs if ok(c)]
    rnd.shuffle(rows)
    fast = matching.rank_rows(rows, fair, {}, ["P0001"], details)
    assert described(fast) == described(reference_rank(cs, fair, {}, {"P0001": "busy"}))
    assert len(calls) == 1  # one chunk of details for every pick


def test_a_ranking_builds_picks_only_when_read_and_keeps_them():
    cs = [
        Candidate(
            f"p{n}",
            f"Sản phẩm {n}",
            f"P{n:03d}",
            "HTX",
            "cooperative",
            1,
            "Vĩnh Long",
            "mekong_delta",
            4,
            ENDS + timedelta(days=n),
            "current",
        )
        for n in range(600)
    ]
    asked = []
    known = {c.product_id: c for c in cs}
    ranking = matching.rank_rows(
        [matching.row_of(c) for c in cs],
        FairTerms("F", "trade_fair", STARTS, ENDS, "mekong_delta", 5),
        details=lambda ids: asked.append(ids) or {i: known[i] for i in ids},
    )
    decisions = matching.select(ranking, ranking.fair)
    assert asked == [] and len(decisions) == 600
    assert [decisions.count_of(o) for o in ("issue", "waitlist", "below_cut")] == [5, 20, 575]
    assert Counter(d.outcome for d in decisions) == {"issue": 5, "waitlist": 20, "below_cut": 575} and asked == []
    first = decisions[0].pick
    assert first is ranking[0] and first.producer_id == "P599" and len(asked) == 1  # longest valid first
    assert decisions[-1].hold == "beyond the waitlist of 20" and decisions[-1].pick.rank == 600
    assert [d.pick.rank for d in decisions[3:7]] == [4, 5, 6, 7]
    assert ranking.place_of("P599") == 0 and ranking.place_of("nobody") is None


def test_a_compacted_ranking_builds_picks_from_rows_given_back():
    rnd = random.Random(3)
    cs = catalogue(rnd, 30, 90)
    fair = FairTerms("F", "trade_fair", STARTS, ENDS, "mekong_delta", 5, Rules(admit_uncertified=True))
    known = {c.product_id: c for c in cs}
    ok = matching.eligibility(fair)
    rows = [matching.row_of(c) for c in cs if ok(c)]
    full = matching.rank_rows(rows, fair, details=lambda ids: {i: known[i] for i in ids})
    ranking = matching.rank_rows(rows, fair, details=lambda ids: {i: known[i] for i in ids})
    ranking.compact()
    with pytest.raises(LookupError, match="compacted"):
        ranking[0]
    wanted = set(full.producer_ids[2:6])
    picks = ranking.picks_for([r for r in rows if r[0] in wanted] + [("stranger", "x", 1, "southeast", 3, ENDS)])
    assert set(picks) == wanted
    assert described(picks[p] for p in full.producer_ids[2:6]) == described(full[2:6])
    assert ranking[3] is picks[full.producer_ids[3]]  # kept once built


def test_a_ranking_equals_the_list_of_its_picks():
    ranking = matching.rank([], FairTerms("F", "trade_fair", STARTS, ENDS, "mekong_delta", 5))
    assert ranking == [] and matching.select(ranking, ranking.fair) == []
    with pytest.raises(IndexError):
        ranking[0]
