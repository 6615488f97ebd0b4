"""Issue 11, old provinces and search (both modes): a pre-2025 province filters and counts apart
from the others of its merged province; a record entered under an old province of a province that
straddles two regions takes the old one's region, in the registry and, through its events, in the
events service's fair rules; participants' exports and invitations carry both names; a search
ranks product-name matches first and says why each row matched."""

from __future__ import annotations

import uuid

from events_support import by_producer, create_fair, events_of, known, publish, register
from support import wait_for
from test_bad_input import cert_body, register_producer
from test_event_outputs import parse_csv


def _certified(api, province: str, name: str, product: str) -> tuple[dict, dict]:
    producer = register_producer(api, province=province, name=name)
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={"producer_id": producer["id"], "name": product, "group": 1},
    )
    assert r.status_code == 201, r.text
    made = r.json()
    r = api.call("POST", "registry", "/certifications", "registry_officer", json=cert_body(made["id"]))
    assert r.status_code == 201, r.text
    return producer, made


def _ids(api, **params) -> set[str]:
    r = api.call("GET", "registry", "/products", "trade_officer", params={"per_page": 500, **params})
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


def test_old_provinces_filter_and_count_apart_from_their_merged_province(api):
    tag = uuid.uuid4().hex[:6]
    _, tra_vinh = _certified(api, "Trà Vinh", f"Hợp tác xã Cầu Ngang {tag}", f"Mắm tép {tag}")
    _, ben_tre = _certified(api, "Bến Tre", f"Cơ sở Mỏ Cày {tag}", f"Kẹo chuối {tag}")
    _, vinh_long = _certified(api, "Vĩnh Long", f"Cơ sở Bình Minh {tag}", f"Bưởi năm roi {tag}")
    ours = {tra_vinh["id"], ben_tre["id"], vinh_long["id"]}

    # Trà Vinh's records only (today: all of Vĩnh Long, Bến Tre's too), typed any way
    for typed in ("Trà Vinh", "tra vinh", "Tỉnh Trà Vinh"):
        assert _ids(api, province=typed) & ours == {tra_vinh["id"]}, typed
    assert _ids(api, province="Bến Tre") & ours == {ben_tre["id"]}
    assert _ids(api, province="Vĩnh Long") & ours == ours  # the merged province: all three
    assert _ids(api, old_province="Vĩnh Long") & ours == {vinh_long["id"]}  # entered as the old Vĩnh Long
    assert _ids(api, old_province="ben tre", q=tag) == {ben_tre["id"]}
    r = api.call("GET", "registry", "/products", "trade_officer", params={"old_province": "Huế"})
    assert r.status_code == 422 and "old_province" in r.json()["errors"]["query"], r.text  # no pre-2025 Huế
    r = api.call("GET", "registry", "/products/export.csv", "trade_officer", params={"province": "Trà Vinh", "q": tag})
    assert r.status_code == 200 and tra_vinh["id"] in r.text and ben_tre["id"] not in r.text

    stats = api.call("GET", "registry", "/statistics", "trade_officer").json()
    rows = {(row["province"], row["old_province"]): row for row in stats["by_old_province"]}
    assert rows[("Vĩnh Long", "Trà Vinh")]["label"] == "Vĩnh Long (Trà Vinh cũ)"
    assert rows[("Vĩnh Long", "Bến Tre")]["label_en"] == "Vĩnh Long (formerly Bến Tre)"
    assert rows[("Vĩnh Long", None)]["label"] == "Vĩnh Long"
    assert all(rows[key]["certified_products"] >= 1 for key in (("Vĩnh Long", "Trà Vinh"), ("Vĩnh Long", "Bến Tre")))
    assert sum(row["certified_products"] for row in stats["by_old_province"]) == stats["certified_products"]
    assert (
        sum(row["certified_products"] for row in stats["by_old_province"] if row["province"] == "Vĩnh Long")
        == stats["by_province"]["Vĩnh Long"]
    )


def test_a_straddling_provinces_old_half_keeps_its_region_in_registry_and_fair_rules(platform, api):
    # Gia Lai (Central Highlands) took in Bình Định (North Central and Central Coast)
    old = register(api, "Bình Định", kind="cooperative_group", group=5, name="Tổ hợp tác Nón lá Phú Gia")
    new = register(api, "Gia Lai", kind="cooperative_group", group=5, name="Tổ hợp tác Dệt thổ cẩm Ia Grai")
    assert (old["producer"]["province"], old["producer"]["region"]) == ("Gia Lai", "north_central_coast")
    assert new["producer"]["region"] == "central_highlands"
    listed = api.call(
        "GET",
        "registry",
        "/products",
        "trade_officer",
        params={"producer_id": old["id"], "region": "north_central_coast"},
    ).json()
    assert [i["id"] for i in listed["items"]] == [old["products"][0]["id"]]
    known(api, [m["products"][0]["id"] for m in (old, new)])
    seen = api.call("GET", "events", f"/catalogue/{old['products'][0]['id']}", "trade_officer").json()
    assert (seen["province"], seen["province_entered"], seen["region"]) == (
        "Gia Lai",
        "Bình Định",
        "north_central_coast",
    )

    # A fair for the North Central Coast's group-5 cooperative groups: Bình Định's, not Gia Lai's
    fair = create_fair(
        api,
        "Gia Lai",
        capacity=5,
        rules={
            "provinces": [],
            "regions": ["north_central_coast"],
            "groups": [5],
            "producer_kinds": ["cooperative_group"],
        },
    )
    publish(api, fair["id"])
    invited = by_producer(api, fair["id"])
    assert old["id"] in invited and new["id"] not in invited

    issued = wait_for(
        lambda: events_of(platform, "events.invitation.issued", invited[old["id"]]["id"]),
        message="the invitation event",
    )[0]["data"]
    assert (issued["producer_province"], issued["producer_province_entered"]) == ("Gia Lai", "Bình Định")
    rows = parse_csv(
        api.call("GET", "events", f"/fairs/{fair['id']}/participants.csv", "trade_officer", params={"status": "issued"})
    )
    mine = next(r for r in rows if r["producer_id"] == old["id"])
    assert (mine["province"], mine["region"]) == ("Gia Lai (Bình Định cũ)", "north_central_coast")


def test_a_search_ranks_product_name_matches_first_and_says_why(api):
    word = f"zq{uuid.uuid4().hex[:5]}"
    by_name = _certified(api, "Hà Nội", "Cơ sở Minh Châu", f"Kẹo dừa {word}")[1]
    both = _certified(api, "Hà Nội", f"Hợp tác xã {word} Phú Lộc", f"Kẹo dừa {word} sầu riêng")[1]
    producer, by_producer_only = _certified(api, "Hà Nội", f"Hợp tác xã {word} An Bình", "Bánh tráng nướng")
    r = api.call("GET", "registry", "/products", "trade_officer", params={"q": word.upper(), "sort": "name"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    # by name alone "Bánh tráng" would come first; the product-name matches rank before it
    assert [(i["id"], i["matched"]) for i in items] == [
        (by_name["id"], ["product_name"]),
        (both["id"], ["product_name", "producer_name"]),
        (by_producer_only["id"], ["producer_name"]),
    ]
    assert r.json()["total"] == 3
    second = api.call(
        "GET", "registry", "/products", "trade_officer", params={"q": word, "sort": "-name", "per_page": 1, "page": 3}
    ).json()
    assert [i["id"] for i in second["items"]] == [by_producer_only["id"]] and second["total"] == 3
    plain = api.call("GET", "registry", "/products", "trade_officer", params={"producer_id": producer["id"]}).json()
    assert "matched" not in plain["items"][0]  # only a search says why


def test_procedures_and_provinces_are_served_as_data(api):
    r = api.call("GET", "registry", "/procedures", "producer")
    assert r.status_code == 200, r.text
    versions = {v["code"]: v for v in r.json()}
    assert list(versions) == ["1048/QĐ-TTg", "148/QĐ-TTg", "1489/QĐ-TTg"]
    now = versions["1489/QĐ-TTg"]
    assert (now["effective_from"], now["effective_to"], now["decision_date"], now["in_force"]) == (
        "2025-07-01",
        None,
        "2025-07-06",
        True,
    )
    assert [(s["level"], s["certifies"]) for s in now["steps"]] == [
        ("commune", []),
        ("province", [3, 4]),
        ("national", [5]),
    ]
    assert versions["148/QĐ-TTg"]["effective_to"] == "2025-06-30" and not versions["148/QĐ-TTg"]["in_force"]
    provinces = {p["name"]: p for p in api.call("GET", "registry", "/provinces", "trade_officer").json()}
    assert len(provinces) == 34 and sum(len(p["predecessors"]) for p in provinces.values()) == 63
    assert provinces["Tây Ninh"]["straddles"] == ["southeast", "mekong_delta"]
    assert provinces["Tây Ninh"]["predecessors"] == {"Tây Ninh": "southeast", "Long An": "mekong_delta"}
    assert provinces["Vĩnh Long"]["straddles"] == []
