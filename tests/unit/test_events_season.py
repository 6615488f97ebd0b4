"""Season planning alone: the rounds (fewest invitations in the season first, then each fair's own
standing), each fair's rules, quotas, booths and waitlist, no producer invited to two overlapping
staffed fairs, determinism, the spread report against matching each fair on its own.

Pure: no database, no broker, no Flask.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from services.events import matching, season
from services.events.matching import Candidate, FairTerms, Load, Rules

JAN = date(2027, 1, 11)


def cand(
    producer: str,
    stars: int = 4,
    region: str = "mekong_delta",
    group: int = 1,
    product: str | None = None,
    days: int = 900,
) -> Candidate:
    province = {"mekong_delta": "Vĩnh Long", "red_river_delta": "Hà Nội", "southeast": "Đồng Nai"}[region]
    return Candidate(
        product or f"{producer}-1",
        f"Sản phẩm của {producer}",
        producer,
        f"Hợp tác xã {producer}",
        "cooperative",
        group,
        province,
        region,
        stars,
        JAN + timedelta(days=days),
    )


def fair(
    fid: str,
    capacity: int,
    start: int = 0,
    days: int = 5,
    kind: str = "trade_fair",
    region: str = "mekong_delta",
    **rules,
) -> FairTerms:
    starts = JAN + timedelta(days=start)
    return FairTerms(
        fid,
        kind,
        starts,
        starts + timedelta(days=days - 1),
        region,
        capacity,
        Rules.from_dict({"waitlist_size": 0, **rules}),
    )


def rankings(fairs, candidates, history=None, busy=None) -> dict:
    return {f.fair_id: matching.rank(candidates, f, history, busy) for f in fairs}


def planned(p: season.Plan, fid: str, outcome: str = "issue") -> list[str]:
    return [c.producer_id for c in p.choices[fid] if c.outcome == outcome]


# ---- the rounds ----------------------------------------------------------------------------------
def test_fairs_take_turns_fewest_invitations_first_then_their_own_standing():
    cs = [cand("A", 5), cand("B", 4, days=1000), cand("C", 4, days=100)]  # standing A, B, C everywhere
    fairs = [fair("F2", 2, start=40), fair("F1", 2, start=10)]
    p = season.plan(fairs, rankings(fairs, cs))
    assert [f.fair_id for f in p.fairs] == ["F1", "F2"]  # date order
    assert planned(p, "F1") == ["A", "C"] and planned(p, "F2") == ["B", "A"]
    f2 = p.choices["F2"]
    assert [(c.round, c.prior, c.place, c.order) for c in f2] == [(1, 0, 1, 1), (2, 1, 0, 2)]
    assert p.greedy == {"F1": ["A", "B"], "F2": ["A", "B"]}  # each alone takes the same two
    assert p.rounds == 2


def test_two_national_fairs_share_the_producers_out_instead_of_inviting_the_same_best_twice():
    cs = [cand(f"P{n:02d}", 5 if n < 10 else 4 if n < 30 else 3, product=f"p{n}") for n in range(60)]
    fairs = [fair("HN", 10, region="red_river_delta"), fair("HCM", 10, start=30, region="southeast")]
    p = season.plan(fairs, rankings(fairs, cs))
    hn, hcm = planned(p, "HN"), planned(p, "HCM")
    assert len(hn) == len(hcm) == 10 and not set(hn) & set(hcm)
    assert set(p.greedy["HN"]) == set(p.greedy["HCM"])  # greedy: the same ten 5★ producers twice
    homes = {c.producer_id: (c.province, c.region) for c in cs}
    plan, alone = season.spread(p.issued(), p, homes), season.spread(p.greedy, p, homes)
    assert (plan.invitations, plan.producers_invited, plan.most_invitations) == (20, 20, 1)
    assert (alone.invitations, alone.producers_invited, alone.most_invitations) == (20, 10, 2)
    assert plan.share_invited == round(20 / 60, 4) and alone.share_invited == round(10 / 60, 4)
    assert plan.gini < alone.gini
    assert plan.invitations_per_producer == {0: 40, 1: 20} and alone.invitations_per_producer == {0: 50, 2: 10}


def test_no_producer_is_invited_to_two_overlapping_staffed_fairs_showcase_points_overlap_nothing():
    cs = [cand(f"P{n}", 5 - n % 3, product=f"p{n}") for n in range(6)]
    fairs = [fair("A", 3), fair("B", 3, start=2), fair("S", 3, kind="showcase_point", days=300)]
    p = season.plan(fairs, rankings(fairs, cs))
    assert not set(planned(p, "A")) & set(planned(p, "B"))
    assert len(planned(p, "A")) == len(planned(p, "B")) == 3 and len(planned(p, "S")) == 3
    assert p.clashes == {"A": frozenset({"B"}), "B": frozenset({"A"}), "S": frozenset()}
    homes = {c.producer_id: (c.province, c.region) for c in cs}
    assert season.spread(p.issued(), p, homes).double_bookings == 0
    assert season.spread(p.greedy, p, homes).double_bookings == 3  # A and B alone invite the same three


def test_a_producer_is_invited_twice_only_when_no_one_eligible_is_left_with_fewer():
    cs = [cand(f"P{n}", product=f"p{n}") for n in range(4)]
    fairs = [fair(f"F{k}", 2, start=10 * k) for k in range(3)]  # 6 invitations, 4 producers
    p = season.plan(fairs, rankings(fairs, cs))
    counts = Counter(pid for fid in ("F0", "F1", "F2") for pid in planned(p, fid))
    assert sorted(counts.values()) == [1, 1, 2, 2] and sum(counts.values()) == 6
    for fid in ("F0", "F1", "F2"):
        for c in p.choices[fid]:
            assert c.prior <= min(counts.values())  # nobody moved to a second while a first was possible


def test_each_fairs_rules_quota_and_booths_hold_in_the_plan():
    cs = [cand(f"F{n}", 5, product=f"f{n}") for n in range(8)] + [
        cand(f"D{n}", 3, group=2, product=f"d{n}") for n in range(3)
    ]
    cs += [
        cand("R", 5, region="red_river_delta"),
        cand("M", 5, product="m1", days=1200),
        cand("M", 5, product="m2", days=1100),
    ]
    food = fair("Q", 10, group_quotas={"1": 0.5}, regions=["mekong_delta"], max_booths_per_producer=2, waitlist_size=4)
    p = season.plan([food], rankings([food], cs))
    issued = [c for c in p.choices["Q"] if c.outcome == "issue"]
    assert "R" not in {c.producer_id for c in p.choices["Q"]}  # the fair admits the Mekong Delta only
    assert sum(c.booths for c in issued if c.group == 1) <= 5 and sum(c.booths for c in issued) <= 10
    assert {c.producer_id: c.booths for c in issued}["M"] == 2
    waiting = [c for c in p.choices["Q"] if c.outcome == "waitlist"]
    assert len(waiting) == 4 and all(c.hold == "group 1 has reached its quota of 50% of the booths" for c in waiting)
    assert [c.order for c in p.choices["Q"]] == list(range(1, len(p.choices["Q"]) + 1))


def test_busy_producers_are_left_out_by_their_fairs_standing():
    cs = [cand("A", 5), cand("B", 4)]
    f = fair("F", 2)
    p = season.plan([f], {"F": matching.rank(cs, f, busy={"A": "already exhibiting"})})
    assert planned(p, "F") == ["B"] and p.eligible == {"B"}


def test_the_waitlist_goes_fewest_season_invitations_first_then_standing_and_leaves_out_clashes():
    cs = [cand(f"P{n}", 5 if n < 3 else 4, product=f"p{n}", days=900 - n) for n in range(8)]
    fairs = [
        fair("A", 2, start=0, waitlist_size=3),
        fair("B", 2, start=2, waitlist_size=5),
        fair("C", 2, start=20, waitlist_size=6),
    ]
    p = season.plan(fairs, rankings(fairs, cs))
    # round 1: A takes P0; B cannot take P0 (A overlaps), takes P1; C takes P2; round 2: P3, P4, P5
    assert (planned(p, "A"), planned(p, "B"), planned(p, "C")) == (["P0", "P3"], ["P1", "P4"], ["P2", "P5"])
    assert planned(p, "A", "waitlist") == ["P6", "P7", "P2"]  # none yet, then one (P1, P4: at B)
    assert planned(p, "B", "waitlist") == ["P6", "P7", "P2", "P5"]  # P0, P3 are invited to A, which overlaps
    assert planned(p, "C", "waitlist") == ["P6", "P7", "P0", "P1", "P3", "P4"]
    assert all(c.hold == "the fair's 2 booths are all offered" for c in p.choices["C"] if c.outcome == "waitlist")


def test_the_same_data_in_any_order_gives_the_same_plan():
    rnd = random.Random(5)
    regions = ["mekong_delta", "red_river_delta", "southeast"]
    cs = [
        cand(
            f"P{n:03d}", rnd.choice([3, 4, 5]), rnd.choice(regions), rnd.choice([1, 2]), f"p{n}", rnd.randint(100, 1200)
        )
        for n in range(150)
    ]
    fairs = [
        fair(
            f"F{k}",
            rnd.randint(3, 12),
            start=rnd.randint(0, 60),
            region=rnd.choice(regions),
            waitlist_size=rnd.randint(0, 8),
            kind=rnd.choice(["trade_fair", "showcase_point"]),
            group_quotas=rnd.choice([{}, {"1": 0.6}]),
        )
        for k in range(8)
    ]
    expected = season.plan(fairs, rankings(fairs, cs))
    for seed in range(3):
        shuffled, order = cs[:], fairs[:]
        random.Random(seed).shuffle(shuffled)
        random.Random(seed).shuffle(order)
        assert season.plan(order, rankings(order, shuffled)).choices == expected.choices


def test_compact_rankings_plan_the_same_and_give_the_same_picks():
    rnd = random.Random(8)
    cs = [cand(f"P{n:03d}", rnd.choice([3, 4, 5]), product=f"p{n}", days=rnd.randint(100, 1200)) for n in range(90)]
    cs += [cand(f"P{n:03d}", 3, product=f"q{n}") for n in range(0, 90, 3)]
    fairs = [fair(f"F{k}", 6, start=3 * k, waitlist_size=4) for k in range(5)]
    full = rankings(fairs, cs)
    known = {c.product_id: c for c in cs}
    rows = [matching.row_of(c) for c in cs]
    names: dict[str, str] = {}
    packed = {}
    for f in fairs:
        packed[f.fair_id] = matching.rank_rows(rows, f, details=lambda ids: {i: known[i] for i in ids})
        packed[f.fair_id].compact(names)
    expected, got = season.plan(fairs, full), season.plan(fairs, packed)
    assert got.choices == expected.choices and got.greedy == expected.greedy
    for f in fairs:
        chosen = {c.producer_id: c.place for c in got.choices[f.fair_id]}
        picks = packed[f.fair_id].picks_for([r for r in rows if r[0] in chosen], chosen)
        assert {p: (x.score, x.parts, [c.product_id for c in x.products]) for p, x in picks.items()} == {
            p: (full[f.fair_id][i].score, full[f.fair_id][i].parts, [c.product_id for c in full[f.fair_id][i].products])
            for p, i in chosen.items()
        }
    assert len(names) == 90


def test_decisions_carry_the_season_rank_and_the_reason():
    cs = [cand("A", 5), cand("B", 4)]
    fairs = [fair("F1", 1, waitlist_size=1), fair("F2", 1, start=30)]
    ranked = rankings(fairs, cs)
    p = season.plan(fairs, ranked)
    f2 = season.decisions(p, "F2", {pk.producer_id: pk for pk in ranked["F2"]})
    assert [(d.pick.producer_id, d.outcome, d.pick.rank) for d in f2] == [("B", "issue", 1)]
    assert f2[0].pick.reasons[-1] == (
        "season plan: chosen in round 1 among the producers with the fewest "
        "invitations in the season (no invitation before this one); 2 of 2 in this "
        "fair's ranking"
    )
    f1 = season.decisions(p, "F1", {pk.producer_id: pk for pk in ranked["F1"]})
    assert [(d.pick.producer_id, d.outcome, d.hold) for d in f1] == [
        ("A", "issue", None),
        ("B", "waitlist", "the fair's 1 booths are all offered"),
    ]
    assert f1[1].pick.reasons[-1].startswith("season plan: waitlisted at place 2 with 1 invitation in the season")


def test_a_fair_that_already_holds_invitations_counts_them():
    cs = [cand(f"P{n}", product=f"p{n}") for n in range(5)]
    f = fair("F", 4)
    p = season.plan([f], rankings([f], cs), {"F": Load(accepted=1, issued=2)})
    assert len(planned(p, "F")) == 1 and len(p.greedy["F"]) == 1


# ---- the spread ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [([], 0.0), ([0, 0, 0], 0.0), ([1, 1, 1, 1], 0.0), ([0, 0, 0, 4], 0.75), ([0, 1], 0.5), ([1, 2, 3, 4], 0.25)],
)
def test_gini(values, expected):
    assert season.gini(values) == expected


def test_the_spread_counts_regions_and_provinces_with_their_share_of_eligible_producers():
    cs = [
        cand("A", region="mekong_delta"),
        cand("B", region="mekong_delta"),
        cand("C", region="red_river_delta"),
        cand("D", region="southeast"),
    ]
    fairs = [fair("F", 2, regional_weights={"host": 9})]
    p = season.plan(fairs, rankings(fairs, cs))
    homes = {c.producer_id: (c.province, c.region) for c in cs}
    s = season.spread(p.issued(), p, homes)
    assert planned(p, "F") == ["A", "B"]
    assert s.by_region["mekong_delta"] == {
        "invitations": 2,
        "producers_invited": 2,
        "eligible": 2,
        "share_invited": 1.0,
    }
    assert s.by_region["southeast"] == {"invitations": 0, "producers_invited": 0, "eligible": 1, "share_invited": 0.0}
    assert s.by_province["Vĩnh Long"]["invitations"] == 2 and set(s.by_province) == {"Vĩnh Long", "Hà Nội", "Đồng Nai"}
    assert s.fill == {"min": 1.0, "median": 1.0, "max": 1.0} and s.per_fair == {"F": 2}


@pytest.mark.parametrize("seed", range(12))
def test_a_season_of_one_fair_invites_and_waitlists_as_matching_it_alone_does(seed):
    rnd = random.Random(seed)
    cs = [
        cand(
            f"P{n:03d}",
            rnd.choice([3, 4, 5]),
            rnd.choice(["mekong_delta", "southeast"]),
            rnd.choice([1, 1, 2]),
            f"p{n}",
            rnd.randint(100, 1200),
        )
        for n in range(rnd.randint(5, 80))
    ]
    f = fair(
        "F",
        rnd.randint(1, 20),
        group_quotas=rnd.choice([{}, {"1": 0.5}]),
        waitlist_size=rnd.randint(0, 10),
        overbooking_percent=rnd.choice([0, 20]),
        max_booths_per_producer=rnd.choice([1, 2]),
    )
    ranking = matching.rank(cs, f)
    alone = matching.select(ranking, f)
    p = season.plan([f], {"F": ranking})
    assert planned(p, "F") == [d.pick.producer_id for d in alone if d.outcome == "issue"]
    assert [(c.producer_id, c.hold) for c in p.choices["F"] if c.outcome == "waitlist"] == [
        (d.pick.producer_id, d.hold) for d in alone if d.outcome == "waitlist"
    ]
