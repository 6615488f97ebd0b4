"""Showcase points (Decision 950/QĐ-BCT) and the eligibility rule on the paths that read it, through
the real APIs and the bus, in both modes: a venue kind, provincial key products designated in the
registry and admitted whatever their stars, and a top-up that honours the sub-group rule.

Isolation: the producers here are from Hà Tĩnh, in groups 4 and 5, which the one other test that
admits Hà Tĩnh (test_invitations, which runs before this module) does not restrict; the fairs here
admit only Hà Tĩnh and only their own group.
"""

from __future__ import annotations

import uuid

from events_support import by_producer, create_fair, get_fair, known, publish
from support import wait_for

PROVINCE = "Hà Tĩnh"


def producer_with(api, group: int, subgroup: str | None = None, key: bool = False, score: int | None = None) -> dict:
    """A producer of Hà Tĩnh with one product (a provincial key product or not), certified when ``score``."""
    code = f"ST-{uuid.uuid4().hex[:8]}"
    r = api.call(
        "POST",
        "registry",
        "/producers",
        "registry_officer",
        json={
            "code": code,
            "name": f"Hợp tác xã Kẹo cu đơ {code}",
            "kind": "cooperative",
            "province": PROVINCE,
            "email": f"{code.lower()}@example.vn",
            "consent": {"email": True, "sms": False},
        },
    )
    assert r.status_code == 201, r.text
    producer = r.json()
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={
            "producer_id": producer["id"],
            "name": f"Kẹo cu đơ {code}",
            "group": group,
            "subgroup": subgroup,
            "provincial_key_product": key,
        },
    )
    assert r.status_code == 201, r.text
    product = r.json()
    assert product["provincial_key_product"] is key
    if score is not None:
        r = api.call(
            "POST",
            "registry",
            "/certifications",
            "registry_officer",
            json={
                "product_id": product["id"],
                "score": score,
                "issued_by": "UBND tỉnh Hà Tĩnh",
                "decision_number": "2233/QĐ-UBND",
                "decision_date": "2025-08-12",
            },
        )
        assert r.status_code == 201, r.text
    return {"id": producer["id"], "product": product}


def preview_producers(api, fair_id: str) -> set[str]:
    r = api.call("GET", "events", f"/fairs/{fair_id}/preview", "trade_officer")
    assert r.status_code == 200, r.text
    return {p["producer_id"] for p in r.json()}


def explain(api, fair_id: str, product_id: str) -> dict:
    r = api.call("GET", "events", f"/fairs/{fair_id}/explain/{product_id}", "trade_officer")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_showcase_point_has_a_venue_kind(api):
    fair = create_fair(
        api,
        PROVINCE,
        kind="showcase_point",
        days=180,
        venue="Khu du lịch Thiên Cầm",
        venue_kind="tourist_site",
        rules={"groups": [6]},
    )
    assert fair["venue_kind"] == "tourist_site"
    assert get_fair(api, fair["id"])["venue_kind"] == "tourist_site"
    r = api.call("PATCH", "events", f"/fairs/{fair['id']}", "trade_officer", json={"venue_kind": "airport"})
    assert r.status_code == 200 and r.json()["venue_kind"] == "airport", r.text
    r = api.call("POST", "events", "/fairs", "trade_officer", json={**_body(api), "venue_kind": "beach"})
    assert r.status_code == 422, r.text
    assert list(r.json()["errors"]["json"]) == ["venue_kind"], r.json()
    publish(api, fair["id"], invite=False)
    listed = api.call("GET", "events", "/fairs", "producer", sub="someone").json()
    assert {f["id"]: f["venue_kind"] for f in listed if f["id"] == fair["id"]} == {fair["id"]: "airport"}


def _body(api) -> dict:
    from events_support import fair_body

    return fair_body(PROVINCE, kind="showcase_point", days=90)


def test_a_showcase_point_admits_provincial_key_products_whatever_their_stars(api):
    uncertified_key = producer_with(api, 5, key=True)
    three_star_later_key = producer_with(api, 5, score=60)  # 3★, designated afterwards
    key_then_certified = producer_with(api, 5, key=True, score=62)  # designated, then certified 3★
    three_star = producer_with(api, 5, score=61)  # 3★, never designated
    four_star = producer_with(api, 5, score=80)
    known(api, [p["product"]["id"] for p in (three_star_later_key, key_then_certified, three_star, four_star)])
    r = api.call(
        "PATCH",
        "registry",
        f"/products/{three_star_later_key['product']['id']}",
        "registry_officer",
        json={"provincial_key_product": True},
    )
    assert r.status_code == 200 and r.json()["provincial_key_product"] is True, r.text
    wait_for(
        lambda: api.call(
            "GET", "events", f"/catalogue/{three_star_later_key['product']['id']}", "trade_officer"
        ).json()["provincial_key_product"],
        message="the designation",
    )

    rules = {"min_stars": 4, "groups": [5], "admit_provincial_key": True}
    point = create_fair(
        api, PROVINCE, kind="showcase_point", days=365, venue="Cảng hàng không Vinh", venue_kind="airport", rules=rules
    )
    assert point["rules"]["admit_provincial_key"] is True
    wanted = {uncertified_key["id"], three_star_later_key["id"], key_then_certified["id"], four_star["id"]}
    assert wait_for(lambda: preview_producers(api, point["id"]) == wanted, message="the key products admitted")
    refused = explain(api, point["id"], three_star["product"]["id"])
    assert refused["outcome"] == "ineligible"
    assert [f["rule"] for f in refused["failed_rules"]] == ["min_stars", "admit_provincial_key"]

    plain = create_fair(api, PROVINCE, kind="showcase_point", days=365, rules={**rules, "admit_provincial_key": False})
    assert preview_producers(api, plain["id"]) == {four_star["id"]}

    publish(api, point["id"])
    invited = by_producer(api, point["id"])
    assert set(invited) == wanted
    assert invited[uncertified_key["id"]]["reasons"][0].endswith(
        "a provincial key product, which the fair admits whatever its stars"
    )


def test_a_top_up_honours_the_sub_group_rule(api):
    """A top-up reads the selection with every rule: a newly certified product of a sub-group the
    fair does not admit is not invited, one of an admitted sub-group is."""
    fair = create_fair(api, PROVINCE, capacity=10, rules={"groups": [4], "subgroups": ["4.2"]})
    publish(api, fair["id"])
    before = set(by_producer(api, fair["id"]))
    outside = producer_with(api, 4, subgroup="4.1", score=80)
    inside = producer_with(api, 4, subgroup="4.2", score=80)
    wait_for(lambda: inside["id"] in by_producer(api, fair["id"]), message="the admitted sub-group topped up")
    known(api, [outside["product"]["id"]])  # its certification (and so its top-up) was handled
    assert set(by_producer(api, fair["id"])) == before | {inside["id"]}
    assert (
        by_producer(api, fair["id"])[inside["id"]]["reasons"][-1]
        == "topped up: certified while the fair was inviting and had room"
    )
