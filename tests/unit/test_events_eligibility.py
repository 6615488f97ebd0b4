"""The one eligibility rule (``services/events/eligibility.py``): provincial key products (Decision
950/QĐ-BCT), and how a product is admitted."""

from __future__ import annotations

from datetime import date

from services.events import matching
from services.events.eligibility import admitted_as, failures
from services.events.matching import Candidate, FairTerms, Rules

STARTS, ENDS = date(2026, 3, 6), date(2026, 3, 10)


def cand(stars=3, status="current", key=False, valid_until=date(2027, 1, 1), group=1, subgroup=None) -> Candidate:
    uncertified = status == "uncertified"
    return Candidate(
        "p1",
        "Mắm ruốc Cửa Tùng",
        "P1",
        "Hợp tác xã Cửa Tùng",
        "cooperative",
        group,
        "Quảng Trị",
        "north_central_coast",
        0 if uncertified else stars,
        None if uncertified else valid_until,
        status,
        subgroup,
        False,
        key,
    )


def showcase(**rules) -> FairTerms:
    return FairTerms("F", "showcase_point", STARTS, ENDS, "north_central_coast", 20, Rules.from_dict(rules))


def rules_failed(c: Candidate, fair: FairTerms) -> list[str]:
    return [rule for rule, _ in failures(c, fair.rules, fair.starts_on, fair.ends_on)]


def test_a_showcase_point_may_admit_provincial_key_products_whatever_their_stars():
    fair = showcase(min_stars=4, admit_provincial_key=True)
    assert rules_failed(cand(stars=3, key=True), fair) == []
    assert rules_failed(cand(status="uncertified", key=True), fair) == []  # never certified
    assert rules_failed(cand(status="expired", key=True), fair) == []  # its certificate lapsed
    assert rules_failed(cand(stars=3, key=True, valid_until=date(2026, 3, 7)), fair) == []
    assert rules_failed(cand(stars=4), fair) == []  # 4★: on its certificate
    assert rules_failed(cand(stars=3), fair) == ["min_stars", "admit_provincial_key"]
    assert rules_failed(cand(status="uncertified"), fair) == ["admit_uncertified", "admit_provincial_key"]


def test_a_revoked_certificate_keeps_a_provincial_key_product_out():
    fair = showcase(admit_provincial_key=True)
    words = dict(failures(cand(status="revoked", key=True), fair.rules, STARTS, ENDS))
    assert words == {
        "status": "certificate is revoked",
        "admit_provincial_key": "a provincial key product whose certificate was revoked",
    }


def test_without_the_rule_a_provincial_key_product_needs_its_stars():
    fair = showcase(min_stars=4)
    assert rules_failed(cand(stars=3, key=True), fair) == ["min_stars"]
    assert rules_failed(cand(status="uncertified", key=True), fair) == ["admit_uncertified"]


def test_the_other_rules_still_apply_to_provincial_key_products():
    fair = showcase(admit_provincial_key=True, groups=[1], subgroups=["1.3"])
    assert rules_failed(cand(status="uncertified", key=True, subgroup="1.1"), fair) == ["subgroups"]
    assert rules_failed(cand(status="uncertified", key=True, group=2), fair) == ["groups"]
    assert rules_failed(cand(status="uncertified", key=True, subgroup="1.3"), fair) == []


def test_a_key_product_admitted_without_a_current_certificate_ranks_on_its_designation():
    fair = showcase(min_stars=4, admit_provincial_key=True)
    expired = cand(stars=5, status="expired", key=True, valid_until=date(2026, 1, 1))
    [pick] = matching.rank([expired], fair)
    assert pick.parts["stars"] == 0 and pick.parts["freshness"] == 0  # a lapsed certificate's stars do not count
    assert pick.reasons[0] == "Mắm ruốc Cửa Tùng: a provincial key product, which the fair admits whatever its stars"
    [three] = matching.rank([cand(stars=3, key=True)], fair)
    assert three.parts["stars"] == 30 and three.reasons[0].endswith(
        "a provincial key product, which the fair admits whatever its stars"
    )
    assert admitted_as(cand(stars=4, key=True), fair) == "certified"
    assert admitted_as(cand(status="uncertified"), showcase(admit_uncertified=True)) == "potential_ocop"
