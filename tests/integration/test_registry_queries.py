"""Registry read side: the demo register reproduces Bến Tre's 2023 figures in /statistics, and
product search ignores diacritics and case."""

from __future__ import annotations

import dataclasses

import pytest
from support import TEST_SECRET, TEST_TOKEN_KEY, TEST_TOKEN_PUBLIC_KEY

from shared.auth import issue_token


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory):
    """A registry of its own (SQLite) holding the embedded default's demo register."""
    from embedded import demo
    from services.registry.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    tmp = tmp_path_factory.mktemp("demo-registry")
    settings = dataclasses.replace(
        load("registry"),
        database_url=f"sqlite:///{tmp / 'registry.sqlite'}",
        secret_key=TEST_SECRET,
        token_public_key=TEST_TOKEN_PUBLIC_KEY,
    )
    app = create_app(settings=settings, migrate=True)
    assert demo.load_registry(runtime_of(app)) is True
    client = app.test_client()
    client.headers = {"Authorization": f"Bearer {issue_token(TEST_TOKEN_KEY, 'trade_officer', 'test-officer')}"}
    yield client
    runtime_of(app).engine.dispose()


def get(client, path, **params):
    r = client.get(path, query_string=params, headers=client.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_statistics_reproduce_ben_tre_2023(demo_registry):
    stats = get(demo_registry, "/statistics")
    assert stats["certified_products"] == 200
    assert stats["producers"] == 76
    assert stats["by_stars"] == {"3": 110, "4": 90}
    assert stats["potential_five_star"] == 16
    assert stats["by_province"] == {"Vĩnh Long": 200}
    assert stats["by_region"] == {"mekong_delta": 200}
    assert stats["by_old_province"] == [
        {
            "province": "Vĩnh Long",
            "old_province": "Bến Tre",
            "certified_products": 200,
            "label": "Vĩnh Long (Bến Tre cũ)",
            "label_en": "Vĩnh Long (formerly Bến Tre)",
        }
    ]
    assert sum(stats["by_producer_kind"].values()) == 200 and sum(stats["by_group"].values()) == 200


def test_search_ignores_diacritics_and_case(demo_registry):
    plain = get(demo_registry, "/products", q="keo dua", per_page=500)
    exact = get(demo_registry, "/products", q="Kẹo dừa", per_page=500)
    assert plain["total"] == exact["total"] > 0
    assert all("Kẹo dừa" in item["name"] or "Kẹo dừa" in item["producer_name"] for item in plain["items"])
    assert get(demo_registry, "/products", q="KEO DUA")["total"] == plain["total"]


def test_filters_sort_and_pages(demo_registry):
    four = get(demo_registry, "/products", stars=4, per_page=500)
    assert four["total"] == 90 and {i["stars"] for i in four["items"]} == {4}
    potential = get(demo_registry, "/products", potential_five_star="true")
    assert potential["total"] == 16
    first = get(demo_registry, "/products", sort="-stars", per_page=20, page=1)
    second = get(demo_registry, "/products", sort="-stars", per_page=20, page=2)
    assert first["total"] == 200 and len(first["items"]) == 20
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    assert first["items"][0]["stars"] == 4 and first["items"][0]["province_entered"] == "Bến Tre"
    bad = demo_registry.get("/products", query_string={"stars": 9, "sort": "price"}, headers=demo_registry.headers)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]["query"]) == {"stars", "sort"}


def test_csv_export_of_a_filtered_list(demo_registry):
    import csv
    import io

    r = demo_registry.get(
        "/products/export.csv", query_string={"stars": 4, "q": "keo dua"}, headers=demo_registry.headers
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    listed = get(demo_registry, "/products", stars=4, q="keo dua", per_page=500)
    assert len(rows) == listed["total"] > 0
    assert {row["id"] for row in rows} == {item["id"] for item in listed["items"]}
    assert all(row["stars"] == "4" and row["province_entered"] == "Bến Tre" for row in rows)
    everything = demo_registry.get("/products/export.csv", headers=demo_registry.headers).get_data().decode("utf-8")
    assert len(everything.strip().splitlines()) == 201  # header + 200 products
    producer_token = {"Authorization": f"Bearer {issue_token(TEST_TOKEN_KEY, 'producer', 'x')}"}
    assert demo_registry.get("/products/export.csv", headers=producer_token).status_code == 403


def test_status_filter_and_old_province_names(platform, api):
    from datetime import date

    from test_bad_input import cert_body, register_producer, register_product

    producer = register_producer(api, province="Trà Vinh", name="Hợp tác xã Trạng thái Cầu Ngang")
    ids = {}
    for label in ("current", "revoked", "expired", "uncertified", "renewed"):
        ids[label] = register_product(api, producer["id"])["id"]
    certs = {}
    for label in ("current", "revoked", "expired", "renewed"):
        r = api.call(
            "POST",
            "registry",
            "/certifications",
            "registry_officer",
            json=cert_body(ids[label], decision_date="2023-03-01" if label == "expired" else "2025-07-20"),
        )
        certs[label] = r.json()["id"]
    assert api.call(
        "POST",
        "registry",
        f"/certifications/{certs['revoked']}/revoke",
        "registry_officer",
        json={"reason": "Vi phạm", "decision_number": "77/QĐ-UBND", "decision_date": date.today().isoformat()},
    ).ok
    # expired, then re-certified: current again
    with platform.runtimes["registry"].session_factory() as s:
        from sqlalchemy import text

        s.execute(
            text("UPDATE certifications SET status = 'expired' WHERE id IN (:a, :b)"),
            {"a": certs["expired"], "b": certs["renewed"]},
        )
        s.commit()
    assert (
        api.call(
            "POST",
            "registry",
            "/certifications",
            "registry_officer",
            json=cert_body(ids["renewed"], kind="recertification"),
        ).status_code
        == 201
    )

    def listed(**params):
        r = api.call("GET", "registry", "/products", "trade_officer", params={"producer_id": producer["id"], **params})
        assert r.status_code == 200, r.text
        return {item["id"] for item in r.json()["items"]}, r.json()["total"]

    expect = {
        "current": {ids["current"], ids["renewed"]},
        "revoked": {ids["revoked"]},
        "expired": {ids["expired"]},
        "uncertified": {ids["uncertified"]},
    }
    for status, wanted in expect.items():
        assert listed(status=status) == (wanted, len(wanted)), status
    # "Trà Vinh" merged into Vĩnh Long: the old name, with or without diacritics, finds the new province
    for typed in ("Trà Vinh", "tra vinh", "Vĩnh Long", "Tỉnh Vĩnh Long"):
        assert listed(province=typed)[1] == 5, typed
    r = api.call("GET", "registry", "/products", "trade_officer", params={"province": "Atlantis"})
    assert r.status_code == 422 and "province" in r.json()["errors"]["query"]
    r = api.call("GET", "registry", "/products", "trade_officer", params={"status": "lost"})
    assert r.status_code == 422 and "status" in r.json()["errors"]["query"]
    export = api.call(
        "GET",
        "registry",
        "/products/export.csv",
        "trade_officer",
        params={"producer_id": producer["id"], "status": "revoked", "province": "tra vinh"},
    )
    assert export.status_code == 200 and export.text.count(ids["revoked"]) == 1 and len(export.text.splitlines()) == 2


def test_a_producers_move_and_kind_change_reach_the_product_filters(api):
    from test_bad_input import register_producer, register_product

    producer = register_producer(api, province="Cao Bằng", kind="household")
    product = register_product(api, producer["id"])

    def found(**params):
        r = api.call("GET", "registry", "/products", "trade_officer", params={"producer_id": producer["id"], **params})
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert found(province="Cao Bằng", region="northern_midlands_mountains", producer_kind="household") == [
        product["id"]
    ]
    r = api.call(
        "PATCH",
        "registry",
        f"/producers/{producer['id']}",
        "registry_officer",
        json={"province": "Sóc Trăng", "kind": "enterprise"},
    )
    assert r.status_code == 200 and r.json()["province"] == "Cần Thơ", r.text
    assert found(province="Cao Bằng") == [] and found(producer_kind="household") == []
    assert found(province="Sóc Trăng", region="mekong_delta", producer_kind="enterprise") == [product["id"]]
