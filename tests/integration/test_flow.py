"""The foundation's flow, end to end through the real HTTP APIs and the bus:
registry officer certifies a product -> events read model -> trade officer publishes a fair ->
invitation -> Vietnamese email with a signed link -> producer accepts on the page -> the events
service records the acceptance and assigns a booth.

Each test's fairs are closed when it ends (``fairs_end_with_their_test``), so a producer of one test
is never topped up into another's fair; the certificates are decided this month, so that a producer
here ranks above the earlier modules' (certified in 2025) that the same rules admit."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from support import TEST_SECRET, wait_for

pytestmark = pytest.mark.usefixtures("fairs_end_with_their_test")
DECIDED = date.today().replace(day=1)  # the freshest certificates the read model holds

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+)")


def register_certified(api, province="Bến Tre", score=78, email=None, name="Hợp tác xã Kẹo dừa Thanh Long"):
    code = f"T-{uuid.uuid4().hex[:8]}"
    email = email or f"{code.lower()}@example.vn"
    r = api.call(
        "POST",
        "registry",
        "/producers",
        "registry_officer",
        json={
            "code": code,
            "name": name,
            "kind": "cooperative",
            "province": province,
            "email": email,
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
        json={"producer_id": producer["id"], "name": "Kẹo dừa sầu riêng", "group": 1},
    )
    assert r.status_code == 201, r.text
    product = r.json()
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json={
            "product_id": product["id"],
            "score": score,
            "issued_by": "UBND tỉnh Bến Tre",
            "decision_number": "1358/QĐ-UBND",
            "decision_date": DECIDED.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return producer, product, r.json(), email


def in_read_model(api, product_id):
    """The events service has the product (it learns of it only through the registry's event)."""
    return wait_for(
        lambda: (r := api.call("GET", "events", f"/catalogue/{product_id}", "trade_officer")).ok and r.json(),
        message="read model row",
    )


def create_fair(api, capacity=5, **rules):
    starts = datetime.now(UTC).date() + timedelta(days=60)
    r = api.call(
        "POST",
        "events",
        "/fairs",
        "trade_officer",
        json={
            "name": f"Hội chợ OCOP Cần Thơ {uuid.uuid4().hex[:4]}",
            "organiser": "Sở Công Thương Cần Thơ",
            "host_province": "Cần Thơ",
            "region": "mekong_delta",
            "venue": "Công viên sông Hậu",
            "starts_on": starts.isoformat(),
            "ends_on": (starts + timedelta(days=4)).isoformat(),
            "capacity": capacity,
            "invitation_deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
            "subsidy_per_booth": 8000000,
            "rules": rules,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def mails_to(platform, address):
    return [m for m in platform.mailbox.list(1000) if address in m[2]]


def test_certified_product_reaches_fair_and_producer_accepts(platform, api):
    producer, product, cert, email = register_certified(api)
    assert cert["stars"] == 4 and cert["valid_until"] == DECIDED.replace(year=DECIDED.year + 3).isoformat()
    assert producer["province"] == "Vĩnh Long" and producer["province_entered"] == "Bến Tre"

    # the events service learns of the product only from the registry's event
    row = in_read_model(api, product["id"])
    assert row["stars"] == 4 and row["producer_id"] == producer["id"] and row["province"] == "Vĩnh Long"

    fair = create_fair(api, min_stars=4, producer_kinds=["cooperative"], provinces=["Vĩnh Long"])
    r = api.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer")
    assert r.status_code == 200 and r.json()["status"] == "inviting", r.text
    invitations = api.call("GET", "events", f"/fairs/{fair['id']}/invitations", "trade_officer").json()
    mine = [i for i in invitations if i["producer_id"] == producer["id"]]
    assert len(mine) == 1 and mine[0]["status"] == "issued" and mine[0]["reasons"]
    invitation = mine[0]

    # the notifications service emails it, in Vietnamese, with a signed link
    [(mail_id, _, _, subject)] = wait_for(lambda: mails_to(platform, email), message="invitation email")
    assert subject.startswith("Thư mời tham gia Hội chợ OCOP Cần Thơ")
    msg = platform.mailbox.get(mail_id)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Kẹo dừa sầu riêng (4 sao)" in text and "Công viên sông Hậu" in text
    link = LINK.search(text).group(1)

    # the producer opens the page and accepts
    page = api.http.get(link, timeout=10)
    assert page.status_code == 200 and "Đồng ý tham gia" in page.text and fair["name"] in page.text
    done = api.http.post(link, data={"answer": "accept", "note": "Chúng tôi mang 2 gian hàng mẫu"}, timeout=10)
    assert done.status_code == 200 and "đồng ý tham gia" in done.text

    accepted = wait_for(
        lambda: (i := api.call("GET", "events", f"/invitations/{invitation['id']}", "trade_officer").json())["status"]
        == "accepted"
        and i,
        message="acceptance recorded",
    )
    assert accepted["booth"] == 1 and accepted["note"] == "Chúng tôi mang 2 gian hàng mẫu"
    # the page now shows the organiser's confirmation, and the link cannot be used again
    wait_for(lambda: "gian hàng số 1" in api.http.get(link, timeout=10).text, message="verdict on page")
    again = api.http.post(link, data={"answer": "decline"}, timeout=10)
    assert again.status_code == 409 and "đã được trả lời" in again.text
    final = api.call("GET", "events", f"/invitations/{invitation['id']}", "trade_officer").json()
    assert final["status"] == "accepted"


def test_links_tampered_or_expired_are_refused(platform, api):
    from services.notifications.links import make_token

    producer, product, _, email = register_certified(api)
    in_read_model(api, product["id"])
    fair = create_fair(api, min_stars=4, provinces=["Vĩnh Long"])
    api.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer")
    [(mail_id, *_)] = wait_for(lambda: mails_to(platform, email), message="invitation email")
    link = LINK.search(platform.mailbox.get(mail_id).get_body(preferencelist=("plain",)).get_content()).group(1)

    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    r = api.http.get(tampered, timeout=10)
    assert r.status_code == 403 and "không hợp lệ" in r.text
    token = link.rsplit("/", 1)[1]
    claims_inv = platform.runtimes["notifications"]
    expired = make_token(TEST_SECRET, "x", producer["id"], datetime.now(UTC) - timedelta(seconds=1))
    r = api.http.get(link.replace(token, expired), timeout=10)
    assert r.status_code == 410 and "hết hạn" in r.text
    assert claims_inv.settings.secret_key == TEST_SECRET


def test_producer_cannot_answer_someone_elses_invitation(platform, api):
    producer, product, _, email = register_certified(api)
    in_read_model(api, product["id"])
    fair = create_fair(api, min_stars=4, provinces=["Vĩnh Long"])
    api.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer")
    inv = next(
        i
        for i in api.call("GET", "events", f"/fairs/{fair['id']}/invitations", "trade_officer").json()
        if i["producer_id"] == producer["id"]
    )
    other = str(uuid.uuid4())
    r = api.call("GET", "events", f"/invitations/{inv['id']}", "producer", sub=other)
    assert r.status_code == 403
    r = api.call("POST", "events", f"/invitations/{inv['id']}/answer", "producer", sub=other, json={"answer": "accept"})
    assert r.status_code == 403 and "another producer" in r.json()["message"]
    r = api.call(
        "POST", "events", f"/invitations/{inv['id']}/answer", "producer", sub=producer["id"], json={"answer": "accept"}
    )
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["booth"] == 1
    r = api.call(
        "POST", "events", f"/invitations/{inv['id']}/answer", "producer", sub=producer["id"], json={"answer": "decline"}
    )
    assert r.status_code == 409


def test_roles_are_checked(api):
    assert api.call("POST", "registry", "/producers", None, json={}).status_code == 401
    assert api.call("POST", "registry", "/producers", "trade_officer", json={}).status_code == 403
    assert api.call("POST", "events", "/fairs", "registry_officer", json={}).status_code == 403
    bad = api.call("POST", "registry", "/producers", None, json={}, headers={"Authorization": "Bearer forged.token"})
    assert bad.status_code == 401
