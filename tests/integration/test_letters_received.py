"""Letters as a producer receives them from a real SMTP server (issue 11), in both languages: the
fair's real organiser invites and gives its contact, the place names the province once, the deadline
is 23:59 Vietnam time, and the producer's long name is whole, in the greeting and in the ``To:``
header. Also the organiser contact's validation on the fair."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

from test_notifications_email import received, register

ORGANISER = {
    "organiser": "Trung tâm Xúc tiến thương mại Cần Thơ",
    "organiser_kind": "trade_promotion_centre",
    "organiser_contact": "Trần Văn Phúc",
    "organiser_phone": "0292 3820 567",
    "organiser_email": "xttm@cantho.gov.vn",
}
LONG_NAME = "Hợp tác xã Sản xuất Kinh doanh Dịch vụ Nông nghiệp Thạnh Phú Đông"  # was cut at "Dịch" in To:


def fair_body(**over) -> dict:
    starts = datetime.now(UTC).date() + timedelta(days=60)
    return {
        "name": f"Phiên chợ OCOP Cần Thơ {uuid.uuid4().hex[:4]}",
        **ORGANISER,
        "host_province": "Cần Thơ",
        "region": "mekong_delta",
        "venue": "Trung tâm Hội chợ Triển lãm Cần Thơ",
        "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=4)).isoformat(),
        "capacity": 50,
        "subsidy_per_booth": 0,
        "invitation_deadline": (datetime.now(UTC) + timedelta(days=40)).isoformat(),
        "response_days": 10,
        "rules": {"min_stars": 4, "provinces": ["Vĩnh Long"]},
        **over,
    }


def test_the_organiser_contact_is_validated_and_shown(api):
    for field, value in (
        ("organiser_phone", "gọi tôi"),
        ("organiser_email", "not an address"),
        ("organiser_contact", "Trần\nVăn Phúc"),
    ):
        r = api.call("POST", "events", "/fairs", "trade_officer", json=fair_body(**{field: value}))
        assert r.status_code == 422 and field in r.json()["errors"]["json"], r.text
    r = api.call("POST", "events", "/fairs", "trade_officer", json=fair_body())
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ORGANISER} == ORGANISER
    r = api.call("PATCH", "events", f"/fairs/{r.json()['id']}", "trade_officer", json={"organiser_phone": None})
    assert r.status_code == 200 and r.json()["organiser_phone"] is None  # optional: it may be taken away


def test_letters_from_the_wire_name_the_organiser_its_contact_and_the_producer_in_full(platform, api):
    vi_producer, _, vi_address = register(api, name=LONG_NAME)
    en_producer, _, en_address = register(api, language="en", name=LONG_NAME + " Bến Tre")
    r = api.call("POST", "events", "/fairs", "trade_officer", json=fair_body())
    assert r.status_code == 201, r.text
    fair = r.json()
    assert api.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer").status_code == 200
    invitations = {
        i["producer_id"]: i
        for i in api.call("GET", "events", f"/fairs/{fair['id']}/invitations", "trade_officer").json()
    }
    for producer, address, lang, name in (
        (vi_producer, vi_address, "vi", LONG_NAME),
        (en_producer, en_address, "en", LONG_NAME + " Bến Tre"),
    ):
        deadline = datetime.fromisoformat(invitations[producer["id"]]["deadline"])
        local = deadline.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        assert (local.hour, local.minute, local.second) == (23, 59, 59)  # a round time, whenever it was published
        raw = received(platform, address, fair)
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        to = head.split("\r\nTo: ", 1)[1].split("\r\nSubject:", 1)[0]
        assert str(make_header(decode_header(to))) == f"{name} <{address}>"  # whole, as mail programs decode it
        msg = message_from_bytes(raw, policy=policy.default)
        assert " ".join(msg["To"].addresses[0].display_name.split()) == name
        text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
        day = local.strftime("%d/%m/%Y") if lang == "vi" else f"{local.day} {local:%B %Y}"
        expected = {
            "vi": [
                f"Kính gửi {name},",
                "Trung tâm Xúc tiến thương mại Cần Thơ trân trọng mời quý đơn vị tham gia",
                "Địa điểm: Trung tâm Hội chợ Triển lãm Cần Thơ\n",
                f"Hạn trả lời: 23:59 ngày {day}",
                "Mọi thắc mắc về hội chợ, xin liên hệ: Trung tâm Xúc tiến thương mại Cần Thơ",
                "Người liên hệ: Trần Văn Phúc",
                "Điện thoại: 0292 3820 567",
                "Thư điện tử: xttm@cantho.gov.vn",
            ],
            "en": [
                f"Dear {name},",
                "Trung tâm Xúc tiến thương mại Cần Thơ invites you to take part in",
                "Where: Trung tâm Hội chợ Triển lãm Cần Thơ\n",
                f"Answer by: 11:59 PM on {day}",
                "Questions about the fair: Trung tâm Xúc tiến thương mại Cần Thơ",
                "Contact: Trần Văn Phúc",
                "Phone: 0292 3820 567",
                "Email: xttm@cantho.gov.vn",
            ],
        }[lang]
        for part in expected:
            assert part in text, (lang, part)
        assert "Cần Thơ, Cần Thơ" not in text and "Sở Công Thương" not in text
        assert "Trần Văn Phúc" in html and 'href="mailto:xttm@cantho.gov.vn"' in html
