"""Helpers for the events service's integration tests (fairs, matching, invitations, booths).

Isolation: the integration suite shares one platform, and a fair invites (and tops up) every
matching product, so each test admits only a province of its own (``PROVINCES`` below are used
by no other test module).
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from support import wait_for


def register(
    api,
    province: str,
    score: int = 78,
    kind: str = "cooperative",
    group: int = 1,
    products: int = 1,
    name: str = "Hợp tác xã Nông sản sạch",
    decided: str = "2025-07-20",
    certify: bool = True,
) -> dict:
    """A producer with ``products`` certified products (through the registry's API, as in production)."""
    code = f"E-{uuid.uuid4().hex[:8]}"
    r = api.call(
        "POST",
        "registry",
        "/producers",
        "registry_officer",
        json={
            "code": code,
            "name": f"{name} {code}",
            "kind": kind,
            "province": province,
            "email": f"{code.lower()}@example.vn",
            "consent": {"email": True, "sms": False},
        },
    )
    assert r.status_code == 201, r.text
    producer, made, certs = r.json(), [], []
    for n in range(products):
        r = api.call(
            "POST",
            "registry",
            "/products",
            "registry_officer",
            json={"producer_id": producer["id"], "name": f"Mật ong rừng U Minh {n + 1}", "group": group},
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
        if not certify:
            continue
        # only the national level certifies 5★ (a provincial 90+ is 4★ proposed for national evaluation)
        by = (
            {"issued_by": "Bộ Nông nghiệp và Môi trường", "decision_number": "1358/QĐ-BNNMT", "level": "national"}
            if score - n >= 90
            else {"issued_by": "UBND tỉnh", "decision_number": "1358/QĐ-UBND"}
        )
        r = api.call(
            "POST",
            "registry",
            "/certifications",
            "registry_officer",
            json={"product_id": made[-1]["id"], "score": score - n, "decision_date": decided, **by},
        )
        assert r.status_code == 201, r.text
        certs.append(r.json())
    return {"producer": producer, "products": made, "certs": certs, "id": producer["id"], "email": producer["email"]}


def register_many(api, n: int, province: str, threads: int = 6, **kw) -> list[dict]:
    with ThreadPoolExecutor(threads) as pool:
        made = list(pool.map(lambda _: register(api, province, **kw), range(n)))
    known(api, [p["id"] for m in made for p in m["products"]])
    return made


def known(api, product_ids) -> None:
    """Wait until the events read model has every product (it learns of them only from events)."""

    def missing():
        return [p for p in product_ids if not api.call("GET", "events", f"/catalogue/{p}", "trade_officer").ok]

    wait_for(lambda: not missing(), timeout=60, interval=0.1, message="products in the events read model")


def fair_body(province: str, capacity: int = 5, starts_in: int = 60, days: int = 5, **over) -> dict:
    starts = datetime.now(UTC).date() + timedelta(days=starts_in)
    rules = over.pop("rules", {})
    body = {
        "name": f"Hội chợ OCOP {province} {uuid.uuid4().hex[:4]}",
        "organiser": "Sở Công Thương",
        "organiser_kind": "trade_department",
        "host_province": "Cần Thơ",
        "region": "mekong_delta",
        "venue": f"Nhà văn hóa {uuid.uuid4().hex[:6]}",
        "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=days - 1)).isoformat(),
        "capacity": capacity,
        "invitation_deadline": (datetime.now(UTC) + timedelta(days=min(30, starts_in - 1))).isoformat(),
        "subsidy_per_booth": 8_000_000,
        "rules": {"min_stars": 3, "provinces": [province], **rules},
    }
    return {**body, **over}


def create_fair(api, province: str, **kw) -> dict:
    r = api.call("POST", "events", "/fairs", "trade_officer", json=fair_body(province, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def publish(api, fair_id: str, invite: bool = True) -> dict:
    r = api.call("POST", "events", f"/fairs/{fair_id}/publish" + ("" if invite else "?invite=false"), "trade_officer")
    assert r.status_code == 200, r.text
    return r.json()


def invitations(api, fair_id: str, status: str | None = None) -> list[dict]:
    r = api.call(
        "GET", "events", f"/fairs/{fair_id}/invitations", "trade_officer", params={"status": status} if status else None
    )
    assert r.status_code == 200, r.text
    return r.json()


def by_producer(api, fair_id: str) -> dict[str, dict]:
    return {i["producer_id"]: i for i in invitations(api, fair_id)}


def answer(api, invitation: dict, answer: str = "accept", producer_id: str | None = None, note: str | None = None):
    return api.call(
        "POST",
        "events",
        f"/invitations/{invitation['id']}/answer",
        "producer",
        sub=producer_id or invitation["producer_id"],
        json={"answer": answer, "note": note},
    )


def get_fair(api, fair_id: str) -> dict:
    return api.call("GET", "events", f"/fairs/{fair_id}", "trade_officer").json()


def events_of(platform, type_: str, subject: str | None = None, **data) -> list[dict]:
    """Events the events service committed to its outbox (what it publishes), optionally filtered."""
    from services.events.models import Outbox

    with platform.runtimes["events"].session_factory() as s:
        rows = [
            json.loads(p) for p in s.scalars(select(Outbox.payload).where(Outbox.type == type_).order_by(Outbox.seq))
        ]
    return [
        e
        for e in rows
        if (subject is None or e["subject"] == subject) and all(e["data"].get(k) == v for k, v in data.items())
    ]


def outbox_count(platform) -> int:
    from sqlalchemy import func

    from services.events.models import Outbox

    with platform.runtimes["events"].session_factory() as s:
        return s.scalar(select(func.count()).select_from(Outbox))


def move_fair(platform, fair_id: str, starts_on: date, ends_on: date) -> None:
    """Put a fair's dates where a test needs them (e.g. in the past, to record it as held)."""
    from services.events.models import Fair

    with platform.runtimes["events"].transaction() as s:
        fair = s.get(Fair, fair_id)
        fair.starts_on, fair.ends_on = starts_on, ends_on
        fair.invitation_deadline = datetime.combine(starts_on, datetime.min.time(), UTC)
