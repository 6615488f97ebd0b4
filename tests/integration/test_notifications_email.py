"""Invitation emails as a producer receives them: through the whole platform (registry ->
events -> notifications -> a real SMTP server), the raw message parsed with the standard
library: RFC 2047 subject, plain text and HTML in the producer's language, the fair's .ics
attachment, and the link followed to the answer page. Also the template preview endpoint."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.header import decode_header, make_header

from icalendar import Calendar
from support import wait_for

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+)")


def register(api, *, language="vi", email=True, phone=None, sms=False, name="Hợp tác xã Bánh tráng Mỹ Lồng"):
    """A producer with one certified 4★ product; returns (producer, product, email)."""
    code = f"N-{uuid.uuid4().hex[:8]}"
    address = f"{code.lower()}@example.vn" if email else None
    r = api.call(
        "POST",
        "registry",
        "/producers",
        "registry_officer",
        json={
            "code": code,
            "name": name,
            "kind": "cooperative",
            "province": "Bến Tre",
            "email": address,
            "phone": phone,
            "preferred_language": language,
            "consent": {"email": True, "sms": sms},
        },
    )
    assert r.status_code == 201, r.text
    producer = r.json()
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={"producer_id": producer["id"], "name": "Bánh tráng dừa nướng", "group": 1},
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
            "score": 80,
            "issued_by": "UBND tỉnh Bến Tre",
            "decision_number": "1358/QĐ-UBND",
            "decision_date": "2025-07-20",
        },
    )
    assert r.status_code == 201, r.text
    wait_for(
        lambda: api.call("GET", "events", f"/catalogue/{product['id']}", "trade_officer").ok,
        message="product in the events read model",
    )
    return producer, product, address


def invite(api, producers, subsidy=8000000):
    """A fair in Cần Thơ open to exactly these producers, published; returns (fair, invitations)."""
    starts = datetime.now(UTC).date() + timedelta(days=60)
    r = api.call(
        "POST",
        "events",
        "/fairs",
        "trade_officer",
        json={
            "name": f"Hội chợ Đặc sản Đồng bằng sông Cửu Long {uuid.uuid4().hex[:4]}",
            "organiser": "Sở Công Thương Cần Thơ",
            "host_province": "Cần Thơ",
            "region": "mekong_delta",
            "venue": "Công viên sông Hậu, Ninh Kiều",
            "starts_on": starts.isoformat(),
            "ends_on": (starts + timedelta(days=4)).isoformat(),
            "capacity": 50,
            "subsidy_per_booth": subsidy,
            "invitation_deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
            "rules": {"min_stars": 4, "provinces": ["Vĩnh Long"]},
        },
    )
    assert r.status_code == 201, r.text
    fair = r.json()
    assert api.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer").status_code == 200
    invitations = api.call("GET", "events", f"/fairs/{fair['id']}/invitations", "trade_officer").json()
    wanted = {p["id"] for p in producers}
    return fair, {i["producer_id"]: i for i in invitations if i["producer_id"] in wanted}


def received(platform, address, fair):
    """The raw bytes of the one email about ``fair`` to ``address`` (waits for it). Other open fairs
    of the suite may invite the same producer too."""
    [(mail_id, *_)] = wait_for(
        lambda: [m for m in platform.mailbox.list(2000) if address in m[2] and m[3].endswith(fair["name"])],
        message=f"email to {address}",
    )
    return platform.mailbox.raw(mail_id)


def test_vietnamese_invitation_email_parsed_from_the_wire(platform, api):
    producer, product, address = register(api)
    fair, invitations = invite(api, [producer])
    invitation = invitations[producer["id"]]
    raw = received(platform, address, fair)

    # headers: ASCII on the wire, the subject as RFC 2047 encoded words that decode to Vietnamese
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    head.decode("ascii")
    subject_raw = re.search(rb"^Subject: (.*(?:\r?\n[ \t].*)*)", head, re.M).group(1).decode()
    assert "=?utf-8?" in subject_raw.lower()
    expected = f"Thư mời tham gia {fair['name']}"
    assert str(make_header(decode_header(subject_raw))) == expected

    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == expected and msg["Content-Language"] == "vi"
    assert msg["To"].addresses[0].display_name == "Hợp tác xã Bánh tráng Mỹ Lồng"
    text = msg.get_body(("plain",)).get_content()
    starts, ends = (datetime.fromisoformat(fair[k]).strftime("%d/%m/%Y") for k in ("starts_on", "ends_on"))
    for part in (
        "Kính gửi Hợp tác xã Bánh tráng Mỹ Lồng,",
        fair["name"],
        "Công viên sông Hậu, Ninh Kiều, Cần Thơ",
        f"từ {starts} đến {ends}",
        "Bánh tráng dừa nướng (4 sao)",
        "Hỗ trợ chi phí: ban tổ chức chi trả 8.000.000 ₫ cho mỗi gian hàng.",
        "Hạn trả lời: ",
    ):
        assert part in text, part
    link = LINK.search(text).group(1)
    html = msg.get_body(("html",)).get_content()
    assert f'href="{link}"' in html and "Trả lời lời mời" in html and fair["name"] in html

    [ics] = list(msg.iter_attachments())
    assert ics.get_content_type() == "text/calendar" and ics.get_filename().endswith(".ics")
    [event] = Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert str(event["summary"]) == fair["name"]
    assert str(event["location"]) == "Công viên sông Hậu, Ninh Kiều, Cần Thơ"
    assert event.decoded("dtstart").isoformat() == fair["starts_on"]
    assert str(event["uid"]) == f"{invitation['id']}@ocop.local" and str(event["url"]) == link
    assert "Bánh tráng dừa nướng" in str(event["description"])

    # the one-tap link opens the producer's page
    page = api.http.get(link, timeout=10)
    assert page.status_code == 200 and fair["name"] in page.text and "Đồng ý tham gia" in page.text

    # the delivery log: one email, sent on the first attempt, naming the invitation (the sender
    # commits right after the SMTP server's acceptance)
    def logged():
        rows = api.call("GET", "notifications", "/deliveries", "trade_officer", params={"ref_id": invitation["id"]})
        return [(d["channel"], d["status"], d["attempts"], d["template"]) for d in rows.json()]

    wait_for(lambda: logged() == [("email", "sent", 1, "invitation")], message="delivery logged as sent")


def test_english_invitation_for_a_producer_who_prefers_it(platform, api):
    producer, _, address = register(api, language="en", name="Cơ sở Kẹo dừa Bến Tre")
    fair, _ = invite(api, [producer], subsidy=0)
    msg = message_from_bytes(received(platform, address, fair), policy=policy.default)
    assert msg["Subject"] == f"Invitation to {fair['name']}" and msg["Content-Language"] == "en"
    text = msg.get_body(("plain",)).get_content()
    assert "Dear Cơ sở Kẹo dừa Bến Tre," in text and "(4 stars)" in text
    assert "What is paid for: no booth subsidy" in text and "Answer by: " in text
    [ics] = list(msg.iter_attachments())
    assert "Answer by" in str(Calendar.from_ical(ics.get_content()).walk("VEVENT")[0]["description"])


# ---- previews ----------------------------------------------------------------------------------------
def test_preview_lists_and_renders_every_template_in_both_languages(api):
    templates = api.call("GET", "notifications", "/previews", "trade_officer").json()
    assert {t["name"] for t in templates} == {
        "invitation",
        "promotion",
        "reminder",
        "withdrawn",
        "fair_updated",
        "fair_cancelled",
        "accepted",
        "declined",
        "answer_refused",
        "certificate_expiring",
        "certificate_expired",
    }
    subjects = ("Hội chợ OCOP và đặc sản vùng miền", "Phiên chợ OCOP Cần Thơ", "Kẹo dừa sầu riêng Thanh Long")
    for t in templates:
        for lang, greeting in (("vi", "Kính gửi"), ("en", "Dear")):
            r = api.call(
                "GET", "notifications", f"/previews/{t['name']}", "registry_officer", params={"language": lang}
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["language"] == lang and body["event_type"] == t["event_type"]
            assert body["text"].startswith(greeting) and any(s in body["subject"] for s in subjects), body["subject"]
            assert 1 <= body["sms"]["segments"] <= 4 and body["sms"]["text"].startswith("OCOP: ")
            assert body["sms"]["text"].endswith("/r/s/PREVIEW00000") == t["answer_link"], t["name"]
            if t["calendar"]:
                assert Calendar.from_ical(body["attachments"][0]["content"]).walk("VEVENT")


def test_preview_with_given_data(api):
    from shared.contracts import sample

    data = sample("events.invitation.issued", 1)["data"]
    data["fair"] = {**data["fair"], "name": "Lễ hội Trái cây Vĩnh Long", "subsidy_per_booth": 5000000}
    r = api.call(
        "POST",
        "notifications",
        "/previews/invitation",
        "trade_officer",
        json={"language": "vi", "data": data, "recipient_name": "Tổ hợp tác Bưởi da xanh"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["subject"] == "Thư mời tham gia Lễ hội Trái cây Vĩnh Long"
    assert "Kính gửi Tổ hợp tác Bưởi da xanh," in body["text"] and "5.000.000 ₫" in body["text"]
    assert body["sms"]["encoding"] == "ucs2" and "Lễ hội Trái cây Vĩnh Long" in body["sms"]["text"]


def test_preview_refuses_bad_input_and_wrong_roles(api):
    from shared.contracts import sample

    data = sample("events.invitation.issued", 1)["data"]
    del data["fair"]["venue"]
    r = api.call("POST", "notifications", "/previews/invitation", "trade_officer", json={"data": data})
    assert r.status_code == 422 and "venue" in r.json()["errors"]["json"]["data"]["fair"]
    r = api.call("POST", "notifications", "/previews/invitation", "trade_officer", json={"language": "fr"})
    assert r.status_code == 422 and "language" in r.json()["errors"]["json"]
    r = api.call("GET", "notifications", "/previews/invitation", "trade_officer", params={"language": "de"})
    assert r.status_code == 422 and "language" in r.json()["errors"]["query"]
    assert api.call("GET", "notifications", "/previews/nothing", "trade_officer").status_code == 404
    assert api.call("GET", "notifications", "/previews/invitation", "producer", sub="p-1").status_code == 403
    assert api.call("GET", "notifications", "/previews", "integration").status_code == 403
    assert api.call("GET", "notifications", "/previews/invitation").status_code == 401
