"""Registry domain rules alone: star bands, certification checks, validity, provinces.

Pure: no database, no broker, no Flask; the only file read is the provinces reference.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from services.registry import domain
from services.registry.domain import DomainError
from shared import reference
from shared.text import fold

CURRENT = "148/QĐ-TTg"


# ---- star bands ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", sorted(domain.CRITERIA))
@pytest.mark.parametrize(
    ("score", "stars"), [(0, 1), (29, 1), (30, 2), (49, 2), (50, 3), (69, 3), (70, 4), (89, 4), (90, 5), (100, 5)]
)
def test_star_band_at_every_boundary(version, score, stars):
    assert domain.criteria(version).stars_for(score) == stars


@pytest.mark.parametrize("score", [-1, 101, 1000])
def test_score_outside_0_to_100_is_refused(score):
    with pytest.raises(DomainError) as err:
        domain.criteria(CURRENT).stars_for(score)
    assert err.value.field == "score"


DAY = date(2025, 9, 1)  # under 1489/QĐ-TTg (two tiers: commune, province, national)
BEFORE = date(2024, 5, 1)  # under 148/QĐ-TTg (three tiers: district, province, national)


def stars(score, claimed=None, level="province", day=DAY):
    return domain.grant_for(CURRENT, score, claimed, level, day).stars


@pytest.mark.parametrize(("score", "expected"), [(50, 3), (69, 3), (70, 4), (89, 4)])
def test_certified_scores_derive_their_stars(score, expected):
    assert stars(score) == expected
    assert stars(score, expected) == expected  # a claim that agrees is accepted


@pytest.mark.parametrize("score", [90, 92, 100])
def test_a_provincial_90_or_more_is_4_stars_proposed_for_national_evaluation(score):
    grant = domain.grant_for(CURRENT, score, None, "province", DAY)
    assert (grant.stars, grant.proposed_for_national) == (4, True)
    with pytest.raises(DomainError) as err:
        stars(score, 5)
    assert err.value.field == "stars" and "only the national level certifies 5★" in err.value.message


@pytest.mark.parametrize("score", [90, 92, 100])
def test_a_national_90_or_more_is_5_stars(score):
    grant = domain.grant_for(CURRENT, score, None, "national", DAY)
    assert (grant.stars, grant.proposed_for_national) == (5, False)


@pytest.mark.parametrize("score", [55, 75, 89])
def test_the_national_level_certifies_5_stars_only(score):
    with pytest.raises(DomainError) as err:
        stars(score, level="national")
    assert err.value.field == "score"


def test_the_commune_pre_checks_and_does_not_certify_and_the_district_is_gone_after_2025():
    for level in ("commune", "district"):
        with pytest.raises(DomainError) as err:
            stars(75, level=level)
        assert err.value.field == "level"
    assert stars(55, level="district", day=BEFORE) == 3  # 148/QĐ-TTg: the district certified 3★
    with pytest.raises(DomainError) as err:
        stars(75, level="district", day=BEFORE)
    assert err.value.field == "score"


@pytest.mark.parametrize("score", [0, 29, 30, 49])
def test_below_three_stars_is_not_certified(score):
    with pytest.raises(DomainError) as err:
        stars(score)
    assert err.value.field == "score"
    assert "only 3★ and above" in err.value.message


@pytest.mark.parametrize(("score", "claimed"), [(78, 5), (78, 3), (89, 5), (50, 4), (60, 4)])
def test_stars_disagreeing_with_the_score_are_refused_naming_stars(score, claimed):
    with pytest.raises(DomainError) as err:
        stars(score, claimed)
    assert err.value.field == "stars"
    assert f"{claimed}★" in err.value.message and str(score) in err.value.message


def test_unknown_criteria_version_names_the_field_and_lists_the_known_ones():
    with pytest.raises(DomainError) as err:
        domain.grant_for("999/QĐ-TTg", 80, None, "province", DAY)
    assert err.value.field == "criteria_version"
    assert all(code in err.value.message for code in domain.CRITERIA)


def test_domain_error_carries_field_and_message():
    exc = DomainError("score", "must be between 0 and 100")
    assert isinstance(exc, ValueError)
    assert (exc.field, exc.message, str(exc)) == (
        "score",
        "must be between 0 and 100",
        "score: must be between 0 and 100",
    )


# ---- potential 5★ and decisions ----------------------------------------------------------------
@pytest.mark.parametrize("held", [None, 3, 5])
def test_only_a_4_star_product_can_be_flagged_potential_5_stars(held):
    domain.check_potential_five_star(False, held)
    domain.check_potential_five_star(True, 4)
    with pytest.raises(DomainError) as err:
        domain.check_potential_five_star(True, held)
    assert err.value.field == "potential_five_star"


@pytest.mark.parametrize(
    ("flagged", "stars_now", "proposed", "after"),
    [
        (False, 4, True, True),
        (True, 4, False, True),
        (False, 4, False, False),
        (True, 5, False, False),
        (True, 3, False, False),
        (True, None, False, False),
    ],
)
def test_the_flag_follows_the_current_certification(flagged, stars_now, proposed, after):
    assert domain.potential_after(flagged, stars_now, proposed) is after


def test_decision_kinds_carry_their_certifications():
    for cert_kind in ("new", "recertification", "upgrade"):
        domain.check_decision_carries("certify", cert_kind)
    domain.check_decision_carries("upgrade", "upgrade")
    with pytest.raises(DomainError) as err:
        domain.check_decision_carries("upgrade", "new")
    assert err.value.field == "kind"
    with pytest.raises(DomainError):
        domain.check_decision_carries("revoke", "new")
    assert domain.decision_kind_for({"upgrade"}) == "upgrade"
    assert domain.decision_kind_for({"new", "upgrade"}) == "certify"
    assert domain.decision_key(" UBND tỉnh Bến Tre ", "1358/QĐ-UBND") == ("ubnd tinh ben tre", "1358/qd-ubnd")
    assert set(domain.REVOCATION_REASONS) == {"violation", "production_stopped", "not_re_evaluated_36_months"}


# ---- decision date and validity --------------------------------------------------------------
def test_decision_date_in_the_future_is_refused():
    today = date(2025, 7, 20)
    domain.check_decision_date(today, today)
    domain.check_decision_date(today - timedelta(days=3650), today)
    with pytest.raises(DomainError) as err:
        domain.check_decision_date(today + timedelta(days=1), today)
    assert err.value.field == "decision_date"


@pytest.mark.parametrize(
    ("decided", "until"),
    [
        (date(2025, 7, 20), date(2028, 7, 20)),
        (date(2021, 1, 1), date(2024, 1, 1)),
        (date(2021, 12, 31), date(2024, 12, 31)),
        (date(2024, 2, 29), date(2027, 2, 28)),  # 29 Feb, and 2027 is not a leap year
        (date(2025, 2, 28), date(2028, 2, 28)),  # not moved to 29 Feb in the leap year
        (date(2023, 3, 31), date(2026, 3, 31)),
        (date(2022, 8, 31), date(2025, 8, 31)),
    ],
)
def test_certificate_is_valid_36_months(decided, until):
    assert domain.VALIDITY_MONTHS == 36
    assert domain.valid_until(decided) == until


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 1, 30), 1, date(2024, 2, 29)),
        (date(2023, 1, 29), 1, date(2023, 2, 28)),
        (date(2023, 3, 31), 1, date(2023, 4, 30)),
        (date(2023, 5, 31), 4, date(2023, 9, 30)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 6, 15), 0, date(2023, 6, 15)),
    ],
)
def test_add_months_clamps_to_the_end_of_a_short_month(start, months, end):
    assert domain.add_months(start, months) == end


# ---- provinces -------------------------------------------------------------------------------
@pytest.mark.parametrize("entered", ["Bến Tre", "ben tre", "BEN TRE", "  Bến   Tre ", "Tỉnh Bến Tre", "tinh ben tre"])
def test_old_province_resolves_to_its_successor_keeping_the_entered_name(entered):
    p = domain.resolve_province(entered)
    assert (p.name, p.region, p.entered_as) == ("Vĩnh Long", "mekong_delta", "Bến Tre")


@pytest.mark.parametrize(
    ("entered", "name", "entered_as"),
    [
        ("Vĩnh Long", "Vĩnh Long", "Vĩnh Long"),
        ("Trà Vinh", "Vĩnh Long", "Trà Vinh"),
        ("Phú Yên", "Đắk Lắk", "Phú Yên"),
        ("dak lak", "Đắk Lắk", "Đắk Lắk"),
        ("Thừa Thiên Huế", "Huế", "Thừa Thiên Huế"),
        ("Huế", "Huế", "Huế"),
        ("TP. Hồ Chí Minh", "Hồ Chí Minh", "Hồ Chí Minh"),
        ("Thành phố Hồ Chí Minh", "Hồ Chí Minh", "Hồ Chí Minh"),
        ("Bình Dương", "Hồ Chí Minh", "Bình Dương"),
        ("Bà Rịa - Vũng Tàu", "Hồ Chí Minh", "Bà Rịa - Vũng Tàu"),
        ("Bà Rịa-Vũng Tàu", "Hồ Chí Minh", "Bà Rịa - Vũng Tàu"),
        ("ba ria – vung tau", "Hồ Chí Minh", "Bà Rịa - Vũng Tàu"),
        ("Thành phố Cần Thơ", "Cần Thơ", "Cần Thơ"),
        ("thanh pho can tho", "Cần Thơ", "Cần Thơ"),
        ("Sóc Trăng", "Cần Thơ", "Sóc Trăng"),
        ("Hoà Bình", "Phú Thọ", "Hòa Bình"),  # old-style tone placement folds to the same key
    ],
)
def test_province_names_old_and_new(entered, name, entered_as):
    p = domain.resolve_province(entered)
    assert (p.name, p.entered_as) == (name, entered_as)


@pytest.mark.parametrize("entered", ["Atlantis", "Sài Gòn Mới", "", "  ", "Tỉnh "])
def test_unknown_province_names_the_field(entered):
    with pytest.raises(DomainError) as err:
        domain.resolve_province(entered)
    assert err.value.field == "province"


def _reference():
    return json.loads((domain.REFERENCE / "provinces.json").read_text(encoding="utf-8"))


def test_reference_has_34_provinces_succeeding_63_in_six_regions():
    data = _reference()
    provinces = data["provinces"]
    old = [name for info in provinces.values() for name in info["predecessors"]]
    assert len(provinces) == 34
    assert len(old) == 63 and len({fold(n) for n in old}) == 63  # each old province has one successor
    assert len(data["regions"]) == 6 == len(reference.regions())
    assert {info["region"] for info in provinces.values()} <= set(data["regions"])


def test_every_province_old_or_new_resolves_to_its_own_entry():
    for name, info in _reference()["provinces"].items():
        assert domain.resolve_province(name).name == name
        for old, old_region in info["predecessors"].items():
            p = domain.resolve_province(old)
            assert (p.name, p.region, p.entered_as) == (name, old_region, old)


def test_regions_returns_a_copy():
    regions = reference.regions()
    regions.clear()
    assert len(reference.regions()) == 6


# ---- criteria versions as data ---------------------------------------------------------------
def test_criteria_versions_come_from_the_reference_file():
    raw = json.loads((domain.REFERENCE / "criteria.json").read_text(encoding="utf-8"))
    assert sorted(domain.CRITERIA) == sorted(v["code"] for v in raw["versions"])
    current = domain.criteria(CURRENT)
    assert current.parts == {"a": 40, "b": 25, "c": 35}
    assert domain.criteria("1048/QĐ-TTg").parts == {"a": 35, "b": 25, "c": 40}
    assert sorted(current.groups) == [1, 2, 3, 4, 5, 6]
    assert current.groups[5].name == "Sinh vật cảnh" and "5.3" in current.groups[5].subgroups


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (date(2019, 8, 21), "1048/QĐ-TTg"),
        (date(2023, 2, 23), "1048/QĐ-TTg"),
        (date(2023, 2, 24), CURRENT),
        (date(2026, 11, 1), CURRENT),
    ],
)
def test_the_version_in_force_follows_the_decision_date(day, code):
    assert domain.criteria_on(day).code == code
    assert domain.criteria_for_decision(None, day).code == code
    assert domain.criteria_for_decision(code, day).code == code


def test_a_version_named_outside_its_period_is_refused_with_the_period():
    with pytest.raises(DomainError) as err:
        domain.criteria_for_decision(CURRENT, date(2022, 5, 1))
    assert err.value.field == "criteria_version" and "24/02/2023" in err.value.message
    with pytest.raises(DomainError) as err:
        domain.criteria_for_decision("1048/QĐ-TTg", date(2024, 5, 1))
    assert err.value.field == "criteria_version" and "23/02/2023" in err.value.message


def test_no_version_before_the_programme_had_criteria():
    with pytest.raises(DomainError) as err:
        domain.criteria_on(date(2018, 1, 1))
    assert err.value.field == "decision_date" and "01/01/2018" in err.value.message


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("1.3", "1.3"),
        ("Thực phẩm chế biến", "1.3"),
        ("thuc pham che bien", "1.3"),
        ("  Processed food ", "1.3"),
        ("CÀ PHÊ, CA CAO", "1.6"),
        (None, None),
        ("", None),
    ],
)
def test_a_subgroup_is_found_by_code_or_name_without_diacritics(given, code):
    assert domain.check_group(domain.criteria(CURRENT), 1, given) == code


def test_a_subgroup_of_another_group_or_version_is_refused_listing_the_known_ones():
    with pytest.raises(DomainError) as err:
        domain.check_group(domain.criteria(CURRENT), 1, "2.1")
    assert err.value.field == "subgroup" and "1.1 Nông sản tươi sống" in err.value.message
    # "Cà phê, ca cao" is a sub-group of 148, not of 1048
    with pytest.raises(DomainError):
        domain.check_group(domain.criteria("1048/QĐ-TTg"), 1, "Cà phê, ca cao")


@pytest.mark.parametrize("group", [0, 7, -1, 99])
def test_an_unknown_group_names_the_field(group):
    with pytest.raises(DomainError) as err:
        domain.check_group(domain.criteria(CURRENT), group, None)
    assert err.value.field == "group" and "1, 2, 3, 4, 5, 6" in err.value.message


@pytest.mark.parametrize(
    ("version", "parts", "field"),
    [
        (CURRENT, {"a": 41, "b": 20, "c": 17}, "score_parts.a"),
        (CURRENT, {"a": 30, "b": 12, "c": 36}, "score_parts.c"),  # C is out of 35 under 148
        ("1048/QĐ-TTg", {"a": 36, "b": 20, "c": 22}, "score_parts.a"),  # A is out of 35 under 1048
        (CURRENT, {"a": 30, "b": 20, "c": 20}, "score_parts"),  # 70, not 78
        (CURRENT, {"a": 30, "b": 20}, "score_parts"),
    ],
)
def test_score_parts_are_checked_against_the_versions_maxima(version, parts, field):
    with pytest.raises(DomainError) as err:
        domain.check_score_parts(domain.criteria(version), parts, 78)
    assert err.value.field == field


def test_score_parts_that_fit_are_accepted_in_either_version():
    domain.check_score_parts(domain.criteria(CURRENT), {"a": 30, "b": 20, "c": 28}, 78)
    domain.check_score_parts(domain.criteria("1048/QĐ-TTg"), {"a": 20, "b": 20, "c": 38}, 78)


def test_a_broken_criteria_file_fails_at_load(tmp_path):
    raw = json.loads((domain.REFERENCE / "criteria.json").read_text(encoding="utf-8"))
    overlapping = json.loads(json.dumps(raw))
    overlapping["versions"][0]["effective_to"] = "2024-01-01"
    (tmp_path / "a.json").write_text(json.dumps(overlapping), encoding="utf-8")
    with pytest.raises(ValueError, match="overlap"):
        domain.load_criteria(tmp_path / "a.json")
    bad_parts = json.loads(json.dumps(raw))
    bad_parts["versions"][1]["parts"]["a"]["max"] = 45
    (tmp_path / "b.json").write_text(json.dumps(bad_parts), encoding="utf-8")
    with pytest.raises(ValueError, match="add up to 100"):
        domain.load_criteria(tmp_path / "b.json")
