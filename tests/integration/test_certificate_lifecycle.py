"""Certificate lifecycle in the registry and its effect on the events read model: revocation by
decision, and the daily sweep (expired; expiring within 30 days, announced once)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from support import wait_for
from test_flow import in_read_model, register_certified

from services.registry import operations as reg_ops
from services.registry.models import Certification, Outbox


def catalogue_status(api, product_id):
    return api.call("GET", "events", f"/catalogue/{product_id}", "trade_officer").json().get("status")


def test_revocation_takes_product_out_of_matching(platform, api):
    producer, product, cert, _ = register_certified(api)
    in_read_model(api, product["id"])
    body = {"reason": "Ngừng sản xuất", "decision_number": "2214/QĐ-UBND", "decision_date": date.today().isoformat()}
    future = api.call(
        "POST",
        "registry",
        f"/certifications/{cert['id']}/revoke",
        "registry_officer",
        json={**body, "decision_date": (date.today() + timedelta(days=5)).isoformat()},
    )
    assert future.status_code == 422 and "decision_date" in future.json()["errors"]["json"]
    assert (
        api.call("POST", "registry", f"/certifications/{cert['id']}/revoke", "trade_officer", json=body).status_code
        == 403
    )
    r = api.call("POST", "registry", f"/certifications/{cert['id']}/revoke", "registry_officer", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoked_reason"] == "Ngừng sản xuất"
    again = api.call("POST", "registry", f"/certifications/{cert['id']}/revoke", "registry_officer", json=body)
    assert again.status_code == 409
    wait_for(lambda: catalogue_status(api, product["id"]) == "revoked", message="read model revoked")
    listed = api.call("GET", "registry", "/products", "trade_officer", params={"producer_id": producer["id"]}).json()
    assert listed["items"][0]["stars"] is None  # no current certification any more


def test_sweep_expires_and_announces_once(platform, api):
    today = date.today()
    _, expired_product, expired_cert, _ = register_certified(api)
    _, soon_product, soon_cert, _ = register_certified(api)
    rt = platform.runtimes["registry"]
    # Back-date the two certificates (a decision that old is valid input too, but writing it
    # directly keeps the test independent of today's date).
    with rt.transaction() as s:
        s.get(Certification, expired_cert["id"]).valid_until = today - timedelta(days=1)
        s.get(Certification, soon_cert["id"]).valid_until = today + timedelta(days=12)
    for _ in range(2):  # idempotent: a second run changes nothing
        with rt.transaction() as s:
            reg_ops.sweep(s, rt.emit, today, datetime.now(UTC))
    with rt.transaction() as s:
        assert s.get(Certification, expired_cert["id"]).status == "expired"
        assert s.get(Certification, soon_cert["id"]).status == "current"
        events = [
            json.loads(p)
            for p in s.scalars(
                select(Outbox.payload).where(
                    Outbox.type.in_(["registry.certification.expired", "registry.certification.expiring"])
                )
            )
        ]
    mine = [
        (e["type"], e["data"]["product_id"], e["data"].get("days_left"))
        for e in events
        if e["data"]["certification_id"] in (expired_cert["id"], soon_cert["id"])
    ]
    assert sorted(mine) == sorted(
        [
            ("registry.certification.expired", expired_product["id"], None),
            ("registry.certification.expiring", soon_product["id"], 12),
        ]
    )
    wait_for(lambda: catalogue_status(api, expired_product["id"]) == "expired", message="read model expired")
    assert catalogue_status(api, soon_product["id"]) == "current"


def test_renewal_and_upgrade_have_their_own_events_and_the_read_model_follows(platform, api):
    _, product, first, _ = register_certified(api, score=72)
    in_read_model(api, product["id"])
    renewed = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json={
            "product_id": product["id"],
            "kind": "recertification",
            "score": 75,
            "issued_by": "UBND tỉnh Vĩnh Long",
            "decision_number": "905/QĐ-UBND",
            "decision_date": date.today().isoformat(),
        },
    ).json()
    upgraded = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json={
            "product_id": product["id"],
            "kind": "upgrade",
            "score": 91,
            "issued_by": "Bộ Nông nghiệp và Môi trường",
            "decision_number": "118/QĐ-BNNMT",
            "decision_date": date.today().isoformat(),
            "level": "national",
        },
    ).json()
    assert (renewed["stars"], upgraded["stars"], upgraded["level"]) == (4, 5, "national")
    with platform.runtimes["registry"].session_factory() as s:
        envelopes = [json.loads(o.payload) for o in s.scalars(select(Outbox).order_by(Outbox.seq))]
    certs = [
        (e["type"], e["data"]["certification_id"], e["data"]["replaces_certification_id"], e["data"]["kind"])
        for e in envelopes
        if e["subject"] == product["id"] and e["type"].startswith("registry.certification.")
    ]
    assert certs == [
        ("registry.certification.granted", first["id"], None, "new"),
        ("registry.certification.renewed", renewed["id"], first["id"], "recertification"),
        ("registry.certification.upgraded", upgraded["id"], renewed["id"], "upgrade"),
    ]
    wait_for(
        lambda: api.call("GET", "events", f"/catalogue/{product['id']}", "trade_officer").json().get("stars") == 5,
        message="read model at 5★ after the upgrade",
    )
