"""Registry reference data at work: criteria versions (groups, sub-groups, score parts, periods)
served and enforced from data, and a year's progress against the programme targets."""

from __future__ import annotations

from sqlalchemy import text
from test_bad_input import cert_body, refused, register_producer, unchanged


def test_criteria_are_served_with_groups_subgroups_parts_and_periods(api):
    r = api.call("GET", "registry", "/criteria", "producer")
    assert r.status_code == 200, r.text
    versions = {v["code"]: v for v in r.json()}
    assert set(versions) == {"148/QĐ-TTg", "1048/QĐ-TTg"}
    current = versions["148/QĐ-TTg"]
    assert current["in_force"] is True and versions["1048/QĐ-TTg"]["in_force"] is False
    assert (current["effective_from"], current["effective_to"]) == ("2023-02-24", None)
    assert current["parts"] == {"a": 40, "b": 25, "c": 35}
    assert current["bands"] == {"5": 90, "4": 70, "3": 50, "2": 30, "1": 0}
    herbs = next(g for g in current["groups"] if g["code"] == 3)
    assert herbs["name"] == "Dược liệu và sản phẩm từ dược liệu"
    assert [s["code"] for s in herbs["subgroups"]] == ["3.1", "3.2", "3.3"]
    one = api.call("GET", "registry", "/criteria/1048/QĐ-TTg", "trade_officer")
    assert one.status_code == 200 and one.json()["parts"]["c"] == 40
    refused(api.call("GET", "registry", "/criteria/999/QĐ-TTg", "trade_officer"), 404, "code")


def new_product(api, **over) -> tuple[int, dict]:
    producer = register_producer(api)
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={"producer_id": producer["id"], "name": "Cà phê Khe Sanh", "group": 1, **over},
    )
    return r.status_code, r.json()


def test_a_subgroup_is_stored_by_its_code_whatever_way_it_was_typed(api):
    status, product = new_product(api, subgroup="ca phe, ca cao")
    assert status == 201 and product["subgroup"] == "1.6", product
    r = api.call(
        "PATCH",
        "registry",
        f"/products/{product['id']}",
        "registry_officer",
        json={"group": 3, "subgroup": "Tinh dầu và thảo dược khác"},
    )
    assert r.status_code == 200 and (r.json()["group"], r.json()["subgroup"]) == (3, "3.3"), r.text


def test_unknown_group_or_subgroup_is_refused_and_nothing_is_written(platform, api):
    producer = register_producer(api)
    with unchanged(platform, "registry"):
        for body, field in (
            ({"group": 7}, "group"),
            ({"group": 0}, "group"),
            ({"group": 1, "subgroup": "2.1"}, "subgroup"),
            ({"group": 4, "subgroup": "Trà xanh"}, "subgroup"),
        ):
            r = api.call(
                "POST",
                "registry",
                "/products",
                "registry_officer",
                json={"producer_id": producer["id"], "name": "Sản phẩm thử", **body},
            )
            refused(r, 422, field)
    _, product = new_product(api, subgroup="1.6")
    with unchanged(platform, "registry"):
        # moving to another group keeps a sub-group that does not belong to it: refused, not half done
        refused(
            api.call("PATCH", "registry", f"/products/{product['id']}", "registry_officer", json={"group": 2}),
            422,
            "subgroup",
        )
    r = api.call("GET", "registry", f"/products/{product['id']}", "registry_officer")
    assert (r.json()["group"], r.json()["subgroup"]) == (1, "1.6")


def test_the_criteria_version_follows_the_decision_date_and_must_have_been_in_force(platform, api):
    _, old = new_product(api)
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json=cert_body(old["id"], decision_date="2021-07-20", score_parts={"a": 20, "b": 20, "c": 38}),
    )
    assert r.status_code == 201, r.text
    assert r.json()["criteria_version"] == "1048/QĐ-TTg"  # in force then; C was out of 40
    _, recent = new_product(api)
    with unchanged(platform, "registry"):
        refused(
            api.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json=cert_body(recent["id"], criteria_version="1048/QĐ-TTg"),
            ),
            422,
            "criteria_version",
        )
        refused(
            api.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json=cert_body(recent["id"], score_parts={"a": 20, "b": 20, "c": 38}),
            ),
            422,
            "score_parts.c",
        )
        refused(
            api.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json=cert_body(recent["id"], decision_date="2017-03-01"),
            ),
            422,
            "decision_date",
        )
    r = api.call("POST", "registry", "/certifications", "registry_officer", json=cert_body(recent["id"]))
    assert r.status_code == 201 and r.json()["criteria_version"] == "148/QĐ-TTg"


def progress(api, year: int) -> dict:
    r = api.call("GET", "registry", f"/statistics/progress?year={year}", "trade_officer")
    assert r.status_code == 200, r.text
    return {m["measure"]: m for m in r.json()["measures"]}


def test_a_years_progress_counts_decisions_of_that_year_against_the_targets(platform, api):
    year = 2024
    before = progress(api, year)
    assert {m: before[m]["target"] for m in before} == {
        "new_certifications": 45,
        "recertifications": 40,
        "upgrades": 30,
        "community_tourism": 2,
    }
    day = f"{year}-05-06"
    _, a = new_product(api)
    _, tour = new_product(api, group=6, name="Điểm du lịch cộng đồng Cồn Phụng")
    for product in (a, tour):
        assert (
            api.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json=cert_body(product["id"], decision_date=day, score=72),
            ).status_code
            == 201
        )
    for kind, score, when in (
        ("recertification", 74, f"{year}-09-01"),
        ("upgrade", 91, f"{year}-11-30"),
        ("recertification", 95, f"{year + 1}-01-02"),
    ):  # the last counts for the next year
        level = {"level": "national", "issued_by": "Bộ Nông nghiệp và Môi trường"} if score >= 90 else {}  # 5★
        r = api.call(
            "POST",
            "registry",
            "/certifications",
            "registry_officer",
            json=cert_body(a["id"], kind=kind, score=score, decision_date=when, **level),
        )
        assert r.status_code == 201, r.text
    after = progress(api, year)
    delta = {m: after[m]["achieved"] - before[m]["achieved"] for m in after}
    assert delta == {"new_certifications": 2, "recertifications": 1, "upgrades": 1, "community_tourism": 1}
    for m in after.values():
        assert m["remaining"] == max(m["target"] - m["achieved"], 0)
        assert m["percent"] == round(100 * m["achieved"] / m["target"], 1)
    with platform.runtimes["registry"].session_factory() as s:
        assert (
            s.execute(
                text("SELECT count(*) FROM certifications WHERE kind = 'upgrade' AND decision_date BETWEEN :a AND :b"),
                {"a": f"{year}-01-01", "b": f"{year}-12-31"},
            ).scalar_one()
            == after["upgrades"]["achieved"]
        )
    refused(
        api.call("GET", "registry", "/statistics/progress?year=1999", "trade_officer"), 422, "year", location="query"
    )
    refused(api.call("GET", "registry", "/statistics/progress", "producer"), 403)
