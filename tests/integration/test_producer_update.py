"""Updating a producer: only the fields sent change, the code never does, and the new state
reaches the notifications service's recipient record through registry.producer.updated."""

from __future__ import annotations

from support import wait_for
from test_flow import register_certified

from services.notifications.models import Recipient


def recipient(platform, producer_id):
    with platform.runtimes["notifications"].transaction() as s:
        row = s.get(Recipient, producer_id)
        return None if row is None else (row.email, row.language, row.consent_sms, row.source_version)


def test_patch_changes_fields_and_notifies(platform, api):
    producer, *_ = register_certified(api)
    wait_for(lambda: recipient(platform, producer["id"]), message="recipient record")
    r = api.call(
        "PATCH",
        "registry",
        f"/producers/{producer['id']}",
        "registry_officer",
        json={"email": "moi@example.vn", "preferred_language": "en", "consent": {"sms": True}, "province": "tra vinh"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email"] == "moi@example.vn" and body["version"] == 2 and body["code"] == producer["code"]
    assert body["consent"] == {"email": True, "sms": True}
    assert (body["province"], body["province_entered"]) == ("Vĩnh Long", "Trà Vinh")
    wait_for(
        lambda: recipient(platform, producer["id"]) == ("moi@example.vn", "en", True, 2),
        message="recipient updated from the event",
    )

    same = api.call(
        "PATCH", "registry", f"/producers/{producer['id']}", "registry_officer", json={"email": "moi@example.vn"}
    )
    assert same.status_code == 200 and same.json()["version"] == 2  # no change, no new version


def test_patch_refuses_bad_input_and_wrong_roles(api):
    producer, *_ = register_certified(api)
    path = f"/producers/{producer['id']}"
    r = api.call("PATCH", "registry", path, "registry_officer", json={"code": "X-1", "phone": "abc"})
    assert r.status_code == 422 and set(r.json()["errors"]["json"]) == {"code", "phone"}
    r = api.call("PATCH", "registry", path, "registry_officer", json={"province": "Atlantis"})
    assert r.status_code == 422 and "province" in r.json()["errors"]["json"]
    assert api.call("PATCH", "registry", path, "trade_officer", json={"name": "Tên mới"}).status_code == 403
    assert (
        api.call("PATCH", "registry", "/producers/nope", "registry_officer", json={"name": "Tên mới"}).status_code
        == 404
    )
    after = api.call("GET", "registry", path, "registry_officer").json()
    assert after["version"] == 1 and after["province_entered"] == producer["province_entered"]


def test_patch_product_reaches_the_events_read_model(platform, api):
    from test_flow import in_read_model

    _, product, _, _ = register_certified(api)
    in_read_model(api, product["id"])
    r = api.call(
        "PATCH",
        "registry",
        f"/products/{product['id']}",
        "registry_officer",
        json={"name": "Kẹo dừa lá dứa", "name_en": "Pandan coconut candy"},
    )
    assert r.status_code == 200 and r.json()["name"] == "Kẹo dừa lá dứa"
    wait_for(
        lambda: api.call("GET", "events", f"/catalogue/{product['id']}", "trade_officer").json()["product_name"]
        == "Kẹo dừa lá dứa",
        message="read model renamed",
    )
    bad = api.call(
        "PATCH",
        "registry",
        f"/products/{product['id']}",
        "registry_officer",
        json={"producer_id": "someone-else", "group": 9},
    )
    assert bad.status_code == 422 and set(bad.json()["errors"]["json"]) == {"producer_id", "group"}
    found = api.call("GET", "registry", "/products", "trade_officer", params={"q": "keo dua la dua"}).json()
    assert [i["id"] for i in found["items"]] == [product["id"]]
