"""Reference data read by every service (shared/reference.py): the evaluation procedure by date,
straddling provinces and the regions of old provinces, both names of a record's province."""

import json
from datetime import date

import pytest

from shared import reference


def test_the_2025_procedure_is_two_tier_from_1_july_2025():
    procedure = reference.procedure_on(date(2025, 7, 1))
    assert procedure.code == "1489/QĐ-TTg" and procedure.decision_date == date(2025, 7, 6)
    assert reference.levels_in_force(date(2025, 7, 1)) == {"commune": (), "province": (3, 4), "national": (5,)}
    assert [step.level for step in procedure.steps] == ["commune", "province", "national"]
    assert reference.procedure_on(date.today()).code == "1489/QĐ-TTg"


def test_before_july_2025_three_tiers_under_1048_then_148():
    assert reference.procedure_on(date(2019, 8, 21)).code == "1048/QĐ-TTg"
    assert reference.procedure_on(date(2023, 2, 23)).code == "1048/QĐ-TTg"
    assert reference.procedure_on(date(2023, 2, 24)).code == "148/QĐ-TTg"
    assert reference.procedure_on(date(2025, 6, 30)).code == "148/QĐ-TTg"
    assert set(reference.levels_in_force(date(2021, 7, 20))) == {"district", "province", "national"}
    assert "district" in reference.certifying_levels(3, date(2024, 5, 1))
    assert reference.certifying_levels(3, date(2025, 7, 1)) == ("province",)  # no district; the commune pre-checks
    with pytest.raises(reference.UnknownName):
        reference.procedure_on(date(2019, 1, 1))


@pytest.mark.parametrize("day", [date(2020, 1, 1), date(2024, 1, 1), date(2025, 7, 1), date(2030, 1, 1)])
def test_only_the_national_level_certifies_five_stars(day):
    assert reference.certifying_levels(5, day) == ("national",)
    assert "province" in reference.certifying_levels(4, day)


def _write(tmp_path, data):
    path = tmp_path / "procedures.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _procedures():
    return json.loads((reference.REFERENCE / "procedures.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: d["versions"][1].update(effective_from="2023-03-01"), "must end the day before"),
        (lambda d: d["versions"][2].update(effective_to="2030-01-01"), "latest procedure must be in force"),
        (lambda d: d["versions"][2]["steps"][2].update(certifies=[]), "must certify 3★, 4★ and 5★"),
        (lambda d: d["versions"][2]["steps"][1].update(certifies=[2, 3, 4]), "and nothing else"),
        (lambda d: d["versions"][2]["steps"][0].update(level="hamlet"), "each step names a different level"),
    ],
)
def test_a_broken_procedures_file_is_refused_at_start_up(tmp_path, break_it, message):
    data = _procedures()
    break_it(data)
    with pytest.raises(ValueError, match=message):
        reference.load_procedures(_write(tmp_path, data))


def test_straddling_provinces_are_data_and_old_provinces_keep_their_regions():
    assert reference.straddling() == {
        "Phú Thọ": ["northern_midlands_mountains", "red_river_delta"],
        "Bắc Ninh": ["northern_midlands_mountains", "red_river_delta"],
        "Quảng Ngãi": ["north_central_coast", "central_highlands"],
        "Gia Lai": ["north_central_coast", "central_highlands"],
        "Lâm Đồng": ["north_central_coast", "central_highlands"],
        "Đắk Lắk": ["north_central_coast", "central_highlands"],
        "Tây Ninh": ["southeast", "mekong_delta"],
    }
    assert reference.resolve_province("Long An") == reference.Province("Tây Ninh", "mekong_delta", "Long An")
    assert reference.resolve_province("Tây Ninh") == reference.Province("Tây Ninh", "southeast", "Tây Ninh")
    assert reference.resolve_province("binh thuan").region == "north_central_coast"
    assert reference.resolve_province("Đắk Nông").region == "central_highlands"
    assert reference.resolve_province("Vĩnh Phúc") == reference.Province("Phú Thọ", "red_river_delta", "Vĩnh Phúc")
    assert reference.predecessors("Lâm Đồng") == {
        "Lâm Đồng": "central_highlands",
        "Đắk Nông": "central_highlands",
        "Bình Thuận": "north_central_coast",
    }
    assert reference.is_current_province("tay ninh") and not reference.is_current_province("Long An")


def test_a_provinces_file_that_hides_a_straddle_is_refused():
    data = json.loads((reference.REFERENCE / "provinces.json").read_text(encoding="utf-8"))
    del data["provinces"]["Tây Ninh"]["straddles"]
    with pytest.raises(ValueError, match="Tây Ninh: straddles must list"):
        reference._check_provinces(data)
    data["provinces"]["Tây Ninh"]["straddles"] = ["southeast", "mekong_delta"]
    data["provinces"]["Tây Ninh"]["predecessors"]["Tây Ninh"] = "mekong_delta"
    with pytest.raises(ValueError, match="the old Tây Ninh lay in mekong_delta"):
        reference._check_provinces(data)


def test_both_names_where_a_record_keeps_an_old_one():
    assert reference.province_label("Vĩnh Long", "Bến Tre") == "Vĩnh Long (Bến Tre cũ)"
    assert reference.province_label("Vĩnh Long", "Bến Tre", "en") == "Vĩnh Long (formerly Bến Tre)"
    assert reference.province_label("Vĩnh Long", "Vĩnh Long") == "Vĩnh Long"
    assert reference.province_label("Vĩnh Long", None, "en") == "Vĩnh Long"
