"""Fair rules and matching alone: transitions, dates, eligibility reasons, matching order.

Pure: no database, no broker, no Flask.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.events import domain
from services.events.domain import Candidate, RuleError, Rules

FAIR_ENDS = date(2026, 3, 10)
ALLOWED = [(src, dst) for src, targets in domain.TRANSITIONS.items() for dst in sorted(targets)]
STATES = sorted(domain.TRANSITIONS)


def cand(product="p1", producer="A", stars=4, valid_until=date(2028, 7, 20), **kw) -> Candidate:
    base = dict(product_id=product, product_name=f"Sản phẩm {product}", producer_id=producer,
                producer_name=f"HTX {producer}", producer_kind="cooperative", group=1, province="Vĩnh Long",
                region="mekong_delta", stars=stars, valid_until=valid_until)
    return Candidate(**{**base, **kw})


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


@pytest.mark.parametrize(("current", "target"),
                         [(a, b) for a in STATES for b in STATES if b not in domain.TRANSITIONS[a]])
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


# ---- dates -----------------------------------------------------------------------------------
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


# ---- eligibility -----------------------------------------------------------------------------
def test_an_eligible_candidate_has_no_reasons():
    assert domain.why_not(cand(), Rules(), FAIR_ENDS) == []


def test_why_not_lists_every_failed_rule():
    rules = Rules(min_stars=5, groups=(2,), regions=("red_river_delta",), provinces=("Hà Nội",),
                  producer_kinds=("enterprise",))
    c = cand(stars=3, valid_until=FAIR_ENDS - timedelta(days=1), status="revoked")
    reasons = domain.why_not(c, rules, FAIR_ENDS)
    assert reasons == [
        "certificate is revoked",
        "3★ is below the fair's minimum of 5★",
        "group 1 is not admitted",
        "region mekong_delta is not admitted",
        "province Vĩnh Long is not admitted",
        "producer kind cooperative is not admitted",
        f"certificate expires {(FAIR_ENDS - timedelta(days=1)).isoformat()}, before the fair ends",
    ]


@pytest.mark.parametrize(("change", "words"), [
    ({"status": "expired"}, "certificate is expired"),
    ({"stars": 3}, "below the fair's minimum"),
    ({"group": 4}, "group 4"),
    ({"region": "southeast"}, "region southeast"),
    ({"province": "Cần Thơ"}, "province Cần Thơ"),
    ({"producer_kind": "household"}, "producer kind household"),
    ({"valid_until": date(2026, 3, 9)}, "certificate expires 2026-03-09"),
])
def test_each_rule_alone(change, words):
    rules = Rules(min_stars=4, groups=(1, 2), regions=("mekong_delta",), provinces=("Vĩnh Long",),
                  producer_kinds=("cooperative",))
    [reason] = domain.why_not(replace(cand(), **change), rules, FAIR_ENDS)
    assert words in reason


def test_empty_rule_lists_admit_everything():
    c = cand(group=6, region="southeast", province="Hồ Chí Minh", producer_kind="enterprise")
    assert domain.why_not(c, Rules(), FAIR_ENDS) == []


# ---- matching --------------------------------------------------------------------------------
def test_match_ranks_by_stars_then_freshness_then_producer_id():
    cs = [cand("p1", "B", stars=4, valid_until=date(2028, 1, 1)),
          cand("p2", "A", stars=4, valid_until=date(2028, 1, 1)),
          cand("p3", "C", stars=5, valid_until=date(2026, 6, 1)),
          cand("p4", "D", stars=4, valid_until=date(2029, 1, 1))]
    picks = domain.match(cs, Rules(), FAIR_ENDS)
    assert [p.producer_id for p in picks] == ["C", "D", "A", "B"]
    assert picks[0].parts["stars"] == 50.0 and picks[0].score == sum(picks[0].parts.values())
    assert picks[0].reasons[0].startswith("Sản phẩm p3: 5★")


def test_match_is_deterministic_whatever_the_input_order():
    cs = [cand(f"p{i:02d}", f"prod-{i % 7}", stars=3 + i % 3, valid_until=date(2027 + i % 2, 1, 1 + i % 5))
          for i in range(40)]
    expected = domain.match(cs, Rules(), FAIR_ENDS)
    for seed in range(5):
        shuffled = cs[:]
        random.Random(seed).shuffle(shuffled)
        got = domain.match(shuffled, Rules(), FAIR_ENDS)
        assert [(p.producer_id, [c.product_id for c in p.products], p.score) for p in got] == \
               [(p.producer_id, [c.product_id for c in p.products], p.score) for p in expected]


def test_one_pick_per_producer_with_at_most_max_products_best_first():
    cs = [cand(f"p{i}", "A", stars=s) for i, s in enumerate([3, 5, 4, 5, 3])]
    [pick] = domain.match(cs, Rules(max_products_per_producer=2), FAIR_ENDS)
    assert [c.product_id for c in pick.products] == ["p1", "p3"]
    [pick] = domain.match(cs, Rules(max_products_per_producer=1), FAIR_ENDS)
    assert [c.product_id for c in pick.products] == ["p1"]
    [pick] = domain.match(cs, Rules(), FAIR_ENDS)
    assert len(pick.products) == 3


def test_expired_or_not_current_certificates_are_excluded():
    cs = [cand("p1", "A", valid_until=FAIR_ENDS - timedelta(days=1)),
          cand("p2", "B", valid_until=FAIR_ENDS),  # still valid on the fair's last day
          cand("p3", "C", status="revoked")]
    picks = domain.match(cs, Rules(), FAIR_ENDS)
    assert [p.producer_id for p in picks] == ["B"]


def test_a_producer_with_only_ineligible_products_is_not_picked():
    cs = [cand("p1", "A", stars=3), cand("p2", "A", group=5), cand("p3", "B", stars=4)]
    picks = domain.match(cs, Rules(min_stars=4, groups=(1,)), FAIR_ENDS)
    assert [(p.producer_id, [c.product_id for c in p.products]) for p in picks] == [("B", ["p3"])]


def test_match_of_nothing_is_empty():
    assert domain.match([], Rules(), FAIR_ENDS) == []
