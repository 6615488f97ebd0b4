"""Fair rules and matching alone: transitions, dates, budget, eligibility reasons, the score and
its parts, selection under capacity and quotas, the waitlist, booth numbers.

Pure: no database, no broker, no Flask.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.events import domain, matching
from services.events.domain import RuleError
from services.events.matching import Candidate, FairTerms, History, Load, Rules

FAIR_STARTS = date(2026, 3, 6)
FAIR_ENDS = date(2026, 3, 10)
ALLOWED = [(src, dst) for src, targets in domain.TRANSITIONS.items() for dst in sorted(targets)]
STATES = sorted(domain.TRANSITIONS)


def cand(product="p1", producer="A", stars=4, valid_until=date(2028, 7, 20), **kw) -> Candidate:
    base = dict(
        product_id=product,
        product_name=f"Sản phẩm {product}",
        producer_id=producer,
        producer_name=f"HTX {producer}",
        producer_kind="cooperative",
        group=1,
        province="Vĩnh Long",
        region="mekong_delta",
        stars=stars,
        valid_until=valid_until,
    )
    return Candidate(**{**base, **kw})


def fair(capacity=10, region="mekong_delta", kind="trade_fair", **rules) -> FairTerms:
    return FairTerms("F", kind, FAIR_STARTS, FAIR_ENDS, region, capacity, Rules.from_dict(rules))


def producers(picks) -> list[str]:
    return [p.producer_id for p in picks]


# ---- transitions -----------------------------------------------------------------------------
@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_transitions_pass(current, target):
    domain.check_transition(current, target)


def test_the_lifecycle_goes_draft_published_inviting_closed_held():
    path = ["draft", "published", "inviting", "closed", "held"]
    for current, target in zip(path, path[1:], strict=False):
        domain.check_transition(current, target)
    for state in path[:-1]:
        domain.check_transition(state, "cancelled")
    assert domain.OPEN == frozenset(path[:-1])


@pytest.mark.parametrize(
    ("current", "target"), [(a, b) for a in STATES for b in STATES if b not in domain.TRANSITIONS[a]]
)
def test_refused_transitions_name_status_and_list_the_allowed_ones(current, target):
    with pytest.raises(RuleError) as err:
        domain.check_transition(current, target)
    assert err.value.field == "status"
    allowed = ", ".join(sorted(domain.TRANSITIONS[current])) or "none"
    assert err.value.message == f"cannot go from {current} to {target}; allowed: {allowed}"


def test_a_fair_published_twice_is_refused_listing_what_is_allowed():
    with pytest.raises(RuleError) as err:
        domain.check_transition("inviting", "published")
    assert err.value.message.endswith("allowed: cancelled, closed")


def test_final_states_allow_nothing_and_unknown_states_are_refused():
    for final in ("held", "cancelled"):
        with pytest.raises(RuleError, match="allowed: none"):
            domain.check_transition(final, "draft")
    with pytest.raises(RuleError, match="allowed: none"):
        domain.check_transition("archived", "published")


def test_a_fair_is_held_only_from_its_first_day():
    with pytest.raises(RuleError, match="starts on 2026-03-06") as err:
        domain.check_can_hold(FAIR_STARTS, FAIR_STARTS - timedelta(days=1))
    assert err.value.field == "status"
    domain.check_can_hold(FAIR_STARTS, FAIR_STARTS)


# ---- dates, capacity, budget, editing ---------------------------------------------------------
def _at(d: date, hour: int = 17) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def test_dates_in_order_pass_including_a_one_day_fair_with_the_deadline_on_its_first_day():
    start = date(2026, 3, 6)
    domain.check_dates(start, start + timedelta(days=4), _at(start - timedelta(days=20)))
    domain.check_dates(start, start, _at(start))


def test_reversed_dates_name_ends_on():
    start = date(2026, 3, 6)
    with pytest.raises(RuleError) as err:
        domain.check_dates(start, start - timedelta(days=1), _at(start - timedelta(days=20)))
    assert err.value.field == "ends_on"


def test_invitation_deadline_after_the_start_names_the_deadline():
    start = date(2026, 3, 6)
    with pytest.raises(RuleError) as err:
        domain.check_dates(start, start + timedelta(days=4), _at(start + timedelta(days=1), hour=0))
    assert err.value.field == "invitation_deadline"


def test_only_a_showcase_point_runs_for_months():
    start, deadline = date(2026, 4, 1), _at(date(2026, 3, 1))
    year = start + timedelta(days=364)
    domain.check_dates(start, year, deadline, "showcase_point")
    for kind in ("trade_fair", "exhibition"):
        with pytest.raises(RuleError, match="showcase_point") as err:
            domain.check_dates(start, year, deadline, kind)
        assert err.value.field == "ends_on"
    domain.check_dates(start, start + timedelta(days=30), deadline, "trade_fair")
    with pytest.raises(RuleError, match="at most 31 days, this one 32"):
        domain.check_dates(start, start + timedelta(days=31), deadline, "trade_fair")


def test_a_deadline_in_the_past_is_refused():
    now = datetime(2026, 1, 10, 9, tzinfo=UTC)
    domain.check_deadline_ahead(now + timedelta(minutes=1), now)
    for past in (now, now - timedelta(days=1)):
        with pytest.raises(RuleError, match="in the past") as err:
            domain.check_deadline_ahead(past, now)
        assert err.value.field == "invitation_deadline"


def test_capacity_below_booths_assigned_is_refused():
    domain.check_capacity(12, 12)
    with pytest.raises(RuleError, match="12 booths are already assigned") as err:
        domain.check_capacity(11, 12)
    assert err.value.field == "capacity"


def test_the_budget_covers_every_booths_subsidy():
    domain.check_budget(None, 15_000_000, 250)
    domain.check_budget(375_000_000, 15_000_000, 25)
    with pytest.raises(RuleError, match="390,000,000 đồng, more than the budget of 375,000,000") as err:
        domain.check_budget(375_000_000, 15_000_000, 26)
    assert err.value.field == "budget"


def test_editing_depends_on_the_state():
    domain.check_editable("draft", {"rules", "starts_on", "kind"})
    domain.check_editable("published", {"rules", "capacity"})
    domain.check_editable("inviting", {"capacity", "venue", "budget"})
    with pytest.raises(RuleError, match="while the fair is inviting") as err:
        domain.check_editable("inviting", {"capacity", "rules"})
    assert err.value.field == "rules"
    for final in ("closed", "held", "cancelled"):
        with pytest.raises(RuleError, match=f"a {final} fair cannot be changed") as err:
            domain.check_editable(final, {"name"})
        assert err.value.field == "status"


def test_rules_that_contradict_each_other_name_the_rule():
    domain.check_rules({"groups": [1, 2], "subgroups": ["1.3"], "group_quotas": {"1": 0.6}})
    domain.check_rules({"subgroups": ["4.1"], "group_quotas": {"3": 0.5}})  # no groups listed: nothing to contradict
    with pytest.raises(RuleError, match="sub-group 3.1 belongs to group 3") as err:
        domain.check_rules({"groups": [1, 2], "subgroups": ["1.3", "3.1"]})
    assert err.value.field == "rules.subgroups"
    with pytest.raises(RuleError, match="quota for group 4") as err:
        domain.check_rules({"groups": [1, 2], "group_quotas": {"4": 0.2}})
    assert err.value.field == "rules.group_quotas"


def test_an_invitation_deadline_is_its_response_window_capped_by_the_fairs():
    issued = datetime(2026, 1, 1, 8, tzinfo=UTC)
    fair_deadline = datetime(2026, 2, 1, 10, tzinfo=UTC)
    # the end of the 14th day in Vietnam (UTC+7): 23:59:59 on 15/01 there, 16:59:59 UTC
    assert domain.invitation_deadline(issued, 14, fair_deadline) == datetime(2026, 1, 15, 16, 59, 59, tzinfo=UTC)
    assert domain.invitation_deadline(issued + timedelta(days=25), 14, fair_deadline) == fair_deadline


def test_an_invitation_deadline_ends_at_a_round_time_whatever_the_minute_it_was_issued():
    """Published at 14:07 (or a place freed at 21:07 after a decline): the deadline is 23:59 Vietnam
    time on its last day, not 14:07 or 21:07; the day is Vietnam's (17:30 UTC is already the next day there)."""
    far = datetime(2027, 1, 1, tzinfo=UTC)
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    for issued in (
        datetime(2026, 3, 2, 7, 7, 13, tzinfo=UTC),
        datetime(2026, 3, 2, 14, 7, tzinfo=vn),
        datetime(2026, 3, 2, 21, 7, tzinfo=vn),
    ):
        local = domain.invitation_deadline(issued, 7, far).astimezone(vn)
        assert (local.date(), local.time()) == (date(2026, 3, 9), time(23, 59, 59)), issued
    local = domain.invitation_deadline(datetime(2026, 3, 2, 17, 30, tzinfo=UTC), 7, far).astimezone(vn)
    assert local.date() == date(2026, 3, 10)
    # the organiser's own deadline, at whatever minute it was set, is kept as set
    set_by_organiser = datetime(2026, 3, 5, 10, 30, tzinfo=vn)
    assert domain.invitation_deadline(datetime(2026, 3, 2, 8, tzinfo=vn), 7, set_by_organiser) == set_by_organiser


# ---- eligibility -----------------------------------------------------------------------------
def test_an_eligible_candidate_has_no_reasons():
    assert matching.why_not(cand(), Rules(), FAIR_ENDS) == []


def test_why_not_lists_every_failed_rule():
    rules = Rules(min_stars=5, groups=(2,), regions=("red_river_delta",), producer_kinds=("enterprise",))
    c = cand(stars=3, valid_until=FAIR_ENDS - timedelta(days=1))
    assert matching.failures(c, rules, FAIR_STARTS, FAIR_ENDS) == [
        ("min_stars", "3★ is below the fair's minimum of 5★"),
        ("groups", "group 1 is not admitted"),
        ("regions", "region mekong_delta is not admitted"),
        ("producer_kinds", "producer kind cooperative is not admitted"),
        ("valid_through_end", "certificate expires 2026-03-09, before the fair ends on 2026-03-10"),
    ]
    assert matching.why_not(replace(c, status="revoked"), rules, FAIR_ENDS)[0] == "certificate is revoked"


@pytest.mark.parametrize(
    ("change", "rule", "words"),
    [
        ({"status": "expired"}, "status", "certificate is expired"),
        ({"stars": 3}, "min_stars", "below the fair's minimum"),
        ({"group": 4}, "groups", "group 4"),
        ({"subgroup": "1.1"}, "subgroups", "sub-group 1.1 is not admitted (group 1 admits 1.3)"),
        ({"province": "Cần Thơ", "region": "southeast"}, "provinces_or_regions", "province Cần Thơ (southeast)"),
        ({"producer_kind": "household"}, "producer_kinds", "producer kind household"),
        ({"valid_until": date(2026, 3, 9)}, "valid_through_end", "certificate expires 2026-03-09"),
        ({"status": "uncertified", "stars": 0, "valid_until": None}, "admit_uncertified", "not certified OCOP"),
    ],
)
def test_each_rule_alone(change, rule, words):
    rules = Rules(
        min_stars=4,
        groups=(1, 2),
        subgroups=("1.3",),
        regions=("mekong_delta",),
        provinces=("Hà Nội",),
        producer_kinds=("cooperative",),
    )
    [(failed, reason)] = matching.failures(replace(cand(subgroup="1.3"), **change), rules, FAIR_STARTS, FAIR_ENDS)
    assert (failed, words in reason) == (rule, True)


def test_sub_groups_narrow_only_their_own_group():
    rules = Rules(groups=(1, 2), subgroups=("1.3",))
    assert matching.why_not(cand(group=2, subgroup="2.1"), rules, FAIR_ENDS) == []
    assert matching.why_not(cand(group=1, subgroup="1.3"), rules, FAIR_ENDS) == []
    assert matching.why_not(cand(group=1, subgroup=None), rules, FAIR_ENDS) == [
        "sub-group not recorded is not admitted (group 1 admits 1.3)"
    ]
    only = Rules(subgroups=("3.2",))  # sub-groups alone admit their groups only
    assert matching.why_not(cand(group=3, subgroup="3.2"), only, FAIR_ENDS) == []
    assert matching.why_not(cand(group=1), only, FAIR_ENDS) == ["group 1 is not admitted"]


def test_source_provinces_or_regions_admit_either():
    rules = Rules(provinces=("Hồ Chí Minh",), regions=("mekong_delta",))
    assert matching.why_not(cand(), rules, FAIR_ENDS) == []
    assert matching.why_not(cand(province="Hồ Chí Minh", region="southeast"), rules, FAIR_ENDS) == []
    assert matching.why_not(cand(province="Đồng Nai", region="southeast"), rules, FAIR_ENDS) == [
        "province Đồng Nai (southeast) is in neither the admitted provinces nor the admitted regions"
    ]
    assert matching.why_not(cand(), Rules(provinces=("Hà Nội",)), FAIR_ENDS) == ["province Vĩnh Long is not admitted"]


def test_uncertified_products_come_in_only_when_the_fair_says_so():
    potential = cand(stars=0, valid_until=None, status="uncertified")
    assert matching.why_not(potential, Rules(min_stars=4, admit_uncertified=True), FAIR_ENDS) == []
    assert matching.why_not(potential, Rules(admit_uncertified=True, groups=(2,)), FAIR_ENDS) == [
        "group 1 is not admitted"
    ]
    assert "not certified" in matching.why_not(potential, Rules(), FAIR_ENDS)[0]


def test_the_certificate_must_last_to_the_last_day_unless_the_fair_asks_only_for_the_first():
    c = cand(valid_until=FAIR_STARTS + timedelta(days=1))
    assert matching.why_not(c, Rules(), FAIR_ENDS, FAIR_STARTS) != []
    assert matching.why_not(c, Rules(valid_through_end=False), FAIR_ENDS, FAIR_STARTS) == []
    gone = cand(valid_until=FAIR_STARTS - timedelta(days=1))
    assert "before the fair starts" in matching.why_not(gone, Rules(valid_through_end=False), FAIR_ENDS, FAIR_STARTS)[0]
    assert matching.why_not(cand(valid_until=FAIR_ENDS), Rules(), FAIR_ENDS) == []  # valid on its last day


def test_empty_rule_lists_admit_everything():
    c = cand(group=6, region="southeast", province="Hồ Chí Minh", producer_kind="enterprise")
    assert matching.why_not(c, Rules(), FAIR_ENDS) == []


def test_rules_round_trip_from_the_stored_json():
    stored = {
        "min_stars": 4,
        "groups": [1, 2],
        "group_quotas": {"1": 0.6},
        "regional_weights": {"far": 5},
        "provinces": ["Vĩnh Long"],
        "overbooking_percent": 20,
        "waitlist_size": 7,
        "top_up": False,
    }
    r = Rules.from_dict(stored)
    assert (r.min_stars, r.groups, r.group_quotas, r.regional_weights) == (4, (1, 2), ((1, 0.6),), (6.0, 3.0, 5.0))
    assert (r.quota(1), r.quota(2), r.overbooking_percent, r.waitlist_size, r.top_up) == (0.6, None, 20, 7, False)
    assert Rules.from_dict(None) == Rules()


# ---- double booking --------------------------------------------------------------------------
def test_staffed_fairs_overlap_when_their_dates_meet_showcase_points_never():
    a = (date(2026, 3, 6), date(2026, 3, 10))
    assert matching.overlaps("trade_fair", a, "exhibition", (date(2026, 3, 10), date(2026, 3, 12)))
    assert not matching.overlaps("trade_fair", a, "trade_fair", (date(2026, 3, 11), date(2026, 3, 12)))
    assert not matching.overlaps("showcase_point", (date(2026, 1, 1), date(2026, 12, 31)), "trade_fair", a)


def test_a_busy_producer_is_not_ranked():
    picks = matching.rank([cand("p1", "A"), cand("p2", "B")], fair(), busy={"A": "already exhibiting at X"})
    assert producers(picks) == ["B"]


# ---- score and ranking -----------------------------------------------------------------------
def test_match_ranks_by_stars_then_freshness_then_producer_id():
    cs = [
        cand("p1", "B", stars=4, valid_until=date(2028, 1, 1)),
        cand("p2", "A", stars=4, valid_until=date(2028, 1, 1)),
        cand("p3", "C", stars=5, valid_until=date(2026, 6, 1)),
        cand("p4", "D", stars=4, valid_until=date(2029, 1, 1)),
    ]
    picks = matching.rank(cs, fair())
    assert producers(picks) == ["C", "D", "A", "B"]
    assert [p.rank for p in picks] == [1, 2, 3, 4]
    top = picks[0]
    assert top.parts == {
        "stars": 50.0,
        "freshness": round(83 / 1095 * 5, 3),
        "fairness": 15.0,
        "region": 6.0,
        "quota_fit": 10.0,
    }
    assert top.score == round(sum(top.parts.values()), 3)
    assert top.reasons[0].startswith("Sản phẩm p3: 5★") and "from the host region (mekong_delta)" in top.reasons


def test_fairness_puts_producers_invited_less_in_the_last_year_first():
    cs = [cand("p1", "A"), cand("p2", "B"), cand("p3", "C")]
    hist = {"A": History(invited=2, exhibited=1), "B": History(invited=1)}
    picks = matching.rank(cs, fair(), history=hist)
    assert producers(picks) == ["C", "B", "A"]
    assert [p.parts["fairness"] for p in picks] == [15.0, 7.5, 3.75]
    assert "invited 2 and exhibited 1 times in the last 12 months" in picks[2].reasons
    assert "not invited to any fair in the last 12 months" in picks[0].reasons


def test_fairness_can_lift_a_producer_across_one_star_but_not_two():
    veteran = cand("p1", "A", stars=4)
    newcomer = cand("p2", "B", stars=3)
    hist = {"A": History(invited=4, exhibited=4)}
    assert producers(matching.rank([veteran, newcomer], fair(), history=hist)) == ["B", "A"]
    assert producers(matching.rank([cand("p1", "A", stars=5), newcomer], fair(), history=hist)) == ["A", "B"]


def test_regional_policy_weights_host_near_and_far_regions():
    cs = [
        cand("p1", "H"),
        cand("p2", "N", province="Hồ Chí Minh", region="southeast"),
        cand("p3", "F", province="Hà Nội", region="red_river_delta"),
    ]
    assert producers(matching.rank(cs, fair())) == ["H", "N", "F"]
    far_first = fair(regional_weights={"host": 0, "near": 2, "far": 8})
    picks = matching.rank(cs, far_first)
    assert producers(picks) == ["F", "N", "H"] and [p.parts["region"] for p in picks] == [8.0, 2.0, 0.0]
    assert "from a far region (red_river_delta)" in picks[0].reasons
    assert matching.region_relation("central_highlands", "mekong_delta") == "far"
    assert matching.region_relation("southeast", "mekong_delta") == "near"


def test_quota_fit_favours_groups_under_their_quota():
    cs = [cand(f"f{i}", f"F{i}", group=1) for i in range(8)] + [cand("b1", "B1", group=2), cand("b2", "B2", group=2)]
    picks = matching.rank(cs, fair(group_quotas={"1": 0.6}))
    fits = {p.producer_id: p.parts["quota_fit"] for p in picks}
    assert fits["F0"] == 7.5 and fits["B1"] == 10.0  # food is 80% of demand for a 60% quota
    assert producers(picks)[:2] == ["B1", "B2"]
    assert "group 1 may take at most 60% of the booths" in next(p for p in picks if p.group == 1).reasons


def test_certificate_freshness_counts_up_to_three_years_after_the_fair():
    fresh = matching.rank([cand("p1", "A", valid_until=FAIR_ENDS + timedelta(days=4000))], fair())[0]
    stale = matching.rank([cand("p1", "A", valid_until=FAIR_ENDS)], fair())[0]
    assert (fresh.parts["freshness"], stale.parts["freshness"]) == (5.0, 0.0)


def test_an_uncertified_product_scores_no_stars_or_freshness():
    [pick] = matching.rank([cand(stars=0, valid_until=None, status="uncertified")], fair(admit_uncertified=True))
    assert (pick.parts["stars"], pick.parts["freshness"]) == (0.0, 0.0)
    assert "potential OCOP" in pick.reasons[0]


def test_match_is_deterministic_whatever_the_input_order():
    cs = [
        cand(
            f"p{i:02d}",
            f"prod-{i % 7}",
            stars=3 + i % 3,
            valid_until=date(2027 + i % 2, 1, 1 + i % 5),
            group=1 + i % 3,
            region=("mekong_delta", "southeast", "red_river_delta")[i % 3],
        )
        for i in range(40)
    ]
    hist = {"prod-1": History(1, 0), "prod-3": History(2, 1)}
    f = fair(group_quotas={"1": 0.5})
    expected = matching.rank(cs, f, hist)
    for seed in range(5):
        shuffled = cs[:]
        random.Random(seed).shuffle(shuffled)
        got = matching.rank(shuffled, f, hist)
        assert [(p.producer_id, [c.product_id for c in p.products], p.score, p.parts) for p in got] == [
            (p.producer_id, [c.product_id for c in p.products], p.score, p.parts) for p in expected
        ]


def test_one_pick_per_producer_with_at_most_max_products_best_first():
    cs = [cand(f"p{i}", "A", stars=s) for i, s in enumerate([3, 5, 4, 5, 3])]
    [pick] = matching.rank(cs, fair(max_products_per_producer=2))
    assert [c.product_id for c in pick.products] == ["p1", "p3"]
    [pick] = matching.rank(cs, fair(max_products_per_producer=1))
    assert [c.product_id for c in pick.products] == ["p1"]
    [pick] = matching.rank(cs, fair())
    assert len(pick.products) == 3 and pick.booths == 1  # one booth per producer by default


def test_a_fair_may_give_a_producer_more_booths_one_per_product_at_most():
    cs = [cand("p1", "A"), cand("p2", "A"), cand("p3", "B")]
    picks = matching.rank(cs, fair(max_booths_per_producer=3))
    assert {p.producer_id: p.booths for p in picks} == {"A": 2, "B": 1}


def test_expired_or_not_current_certificates_are_excluded():
    cs = [
        cand("p1", "A", valid_until=FAIR_ENDS - timedelta(days=1)),
        cand("p2", "B", valid_until=FAIR_ENDS),
        cand("p3", "C", status="revoked"),
    ]
    assert producers(matching.rank(cs, fair())) == ["B"]


def test_a_producer_with_only_ineligible_products_is_not_picked():
    cs = [cand("p1", "A", stars=3), cand("p2", "A", group=5), cand("p3", "B", stars=4)]
    picks = matching.rank(cs, fair(min_stars=4, groups=[1]))
    assert [(p.producer_id, [c.product_id for c in p.products]) for p in picks] == [("B", ["p3"])]


def test_match_of_nothing_is_empty():
    assert matching.rank([], fair()) == []
    assert matching.select([], fair()) == []


# ---- selection, waitlist, promotion ----------------------------------------------------------
def test_select_invites_up_to_capacity_then_waitlists_then_cuts():
    picks = matching.rank([cand(f"p{i:02d}", f"P{i:02d}") for i in range(30)], fair(capacity=5, waitlist_size=10))
    decisions = matching.select(picks, fair(capacity=5, waitlist_size=10))
    assert Counter(d.outcome for d in decisions) == {"issue": 5, "waitlist": 10, "below_cut": 15}
    assert [d.outcome for d in decisions[:6]] == ["issue"] * 5 + ["waitlist"]
    assert decisions[5].hold == "the fair's 5 booths are all offered"


def test_the_default_waitlist_is_twice_the_capacity_and_at_least_twenty():
    assert (fair(capacity=5).waitlist_size, fair(capacity=60).waitlist_size) == (20, 120)


def test_a_group_over_its_quota_waits_while_others_are_invited():
    cs = [cand(f"f{i}", f"F{i}", group=1, stars=5) for i in range(8)] + [
        cand(f"d{i}", f"D{i}", group=2) for i in range(4)
    ]
    f = fair(capacity=10, group_quotas={"1": 0.6})
    decisions = matching.select(matching.rank(cs, f), f)
    issued = [d.pick for d in decisions if d.outcome == "issue"]
    assert Counter(p.group for p in issued) == {1: 6, 2: 4}
    held = [d for d in decisions if d.outcome == "waitlist"]
    assert len(held) == 2 and all(d.hold == "group 1 has reached its quota of 60% of the booths" for d in held)


def test_overbooking_offers_more_than_the_capacity():
    f = fair(capacity=10, overbooking_percent=20)
    decisions = matching.select(matching.rank([cand(f"p{i:02d}", f"P{i:02d}") for i in range(15)], f), f)
    assert f.issue_limit == 12 and sum(d.outcome == "issue" for d in decisions) == 12


def test_select_counts_what_the_fair_already_holds():
    f = fair(capacity=4)
    load = Load(accepted=2, issued=1)
    decisions = matching.select(matching.rank([cand(f"p{i}", f"P{i}") for i in range(3)], f), f, load)
    assert [d.outcome for d in decisions] == ["issue", "waitlist", "waitlist"]


def test_promotion_takes_the_best_ranked_that_fits():
    f = fair(capacity=4, group_quotas={"1": 0.5})
    load = Load(accepted=1, issued=2, accepted_by_group=Counter({1: 1}), issued_by_group=Counter({1: 1, 2: 1}))
    waiting = [matching.Waiting("w3", 3, 2, 1), matching.Waiting("w1", 1, 1, 1), matching.Waiting("w2", 2, 2, 1)]
    assert matching.next_to_promote(waiting, f, load).invitation_id == "w2"  # group 1 is at its 2 booths
    full = Load(accepted=2, issued=2)
    assert matching.next_to_promote(waiting, f, full) is None
    assert matching.next_to_promote([], f, Load()) is None


def test_acceptance_is_refused_once_booths_or_the_groups_quota_are_gone():
    f = fair(capacity=3, group_quotas={"1": 0.34})  # one food booth of three
    assert matching.acceptance_refusal(f, Load(accepted=2), 2, 1) is None
    assert matching.acceptance_refusal(f, Load(accepted=3), 2, 1) == "every booth of the fair is taken"
    assert matching.acceptance_refusal(f, Load(accepted=2), 2, 2) == "every booth of the fair is taken"
    food = Load(accepted=1, accepted_by_group=Counter({1: 1}))
    assert matching.acceptance_refusal(f, food, 1, 1) == "group 1 has reached its quota of 34% of the booths"


def test_booths_are_the_lowest_free_numbers():
    assert matching.free_booths(5, [], 1) == [1]
    assert matching.free_booths(5, [1, 2, 4], 2) == [3, 5]
    with pytest.raises(ValueError):
        matching.free_booths(3, [1, 2], 2)


def test_the_fast_eligibility_check_agrees_with_the_explained_one():
    rnd = random.Random(7)
    regions = ["mekong_delta", "southeast", "red_river_delta"]
    for _ in range(300):
        rules = {
            "min_stars": rnd.choice([3, 4, 5]),
            "admit_uncertified": rnd.random() < 0.5,
            "groups": rnd.sample([1, 2, 3], rnd.randint(0, 2)),
            "subgroups": rnd.sample(["1.3", "2.1"], rnd.randint(0, 1)),
            "regions": rnd.sample(regions, rnd.randint(0, 1)),
            "provinces": rnd.sample(["Vĩnh Long", "Hà Nội"], rnd.randint(0, 1)),
            "producer_kinds": rnd.sample(["cooperative", "household"], rnd.randint(0, 1)),
            "valid_through_end": rnd.random() < 0.5,
        }
        f = fair(**rules)
        ok = matching.eligibility(f)
        for _ in range(20):
            c = cand(
                stars=rnd.choice([0, 3, 4, 5]),
                group=rnd.choice([1, 2, 3]),
                subgroup=rnd.choice([None, "1.3", "1.1", "2.1"]),
                region=rnd.choice(regions),
                province=rnd.choice(["Vĩnh Long", "Hà Nội", "Đồng Nai"]),
                producer_kind=rnd.choice(["cooperative", "household"]),
                status=rnd.choice(["current", "current", "uncertified", "revoked"]),
                valid_until=rnd.choice([None, FAIR_STARTS - timedelta(days=1), FAIR_STARTS, FAIR_ENDS]),
            )
            assert ok(c) == (not matching.failures(c, f.rules, FAIR_STARTS, FAIR_ENDS)), (rules, c)


def test_score_parts_and_reasons_are_there_when_read():
    [pick] = matching.rank([cand()], fair(group_quotas={"1": 0.5}))
    assert list(pick.parts) == ["stars", "freshness", "fairness", "region", "quota_fit"]
    assert pick.reasons[-1] == "group 1 may take at most 50% of the booths"
    pick.reasons.append("topped up")
    assert pick.reasons[-1] == "topped up"  # built once, then kept
