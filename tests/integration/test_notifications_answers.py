"""The producer's answer page, through HTTP: in the producer's language (Vietnamese by default,
``?lang=`` to switch), the answer sent once as notifications.invitation.answered, the
organiser's verdict shown when it comes back, and a clear page, with nothing written, for a
link that is tampered, not for answering, expired, someone else's, unknown, used already, or for
an invitation no longer open."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer
from test_notifications_sms import event, notifier_factory  # noqa: F401 - fixture

from services.notifications import links
from shared.contracts import sample

FAIR = "Hội chợ Trái cây Đồng bằng sông Cửu Long"


@pytest.fixture
def n(notifier_factory):  # noqa: F811
    return notifier_factory()


def invited(n, language="vi", email="htx.page@example.vn") -> tuple[dict, str]:
    """A producer invited; returns (the issued envelope, its signed answer link)."""
    p = n.producer(email=email, sms=False, language=language)
    inv = n.invitation(p["producer_id"], fair_name=FAIR)
    assert n.deliver(inv) == "handled"
    [row] = n.deliveries(cause_event_id=inv["id"])
    [link] = re.findall(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+", row.body_text)
    return inv, link


def about(type_: str, inv: dict, version: int = 2, **changes) -> dict:
    data = sample(type_, 1)["data"]
    if "reason" in changes:  # other words than the sample's: its cause code (and detail) no longer apply
        data.pop("cause", None), data.pop("detail", None)
    data.update(invitation_id=inv["data"]["invitation_id"], producer_id=inv["data"]["producer_id"], **changes)
    if "fair_id" in data:
        data["fair_id"] = inv["data"]["fair"]["fair_id"]
    return event(type_, data["invitation_id"], version, data)


def written(n) -> tuple[int, int]:
    from sqlalchemy import func, select

    from services.notifications.models import Answer

    with n.rt.transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(Answer)),
            s.scalar(select(func.count()).select_from(n.rt.outbox)),
        )


def test_the_page_speaks_the_producers_language_and_takes_one_answer(n):
    inv, link = invited(n, language="en")
    page = n.http.get(link, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<html lang="en">' in page.text and f"Invitation to {FAIR}" in page.text
    assert "The invitation awaits your answer." in page.text and ">Accept</button>" in page.text
    vi = n.http.get(link + "?lang=vi", timeout=10)
    assert '<html lang="vi">' in vi.text and "Đồng ý tham gia" in vi.text and "Hạn trả lời" in vi.text

    before = written(n)
    done = n.http.post(link, data={"answer": "accept", "note": "Cần ổ điện 220V"}, timeout=10)
    assert done.status_code == 200 and "Your answer, accept, has been sent" in done.text
    assert written(n) == (before[0] + 1, before[1] + 1)
    [answered] = n.outbox("notifications.invitation.answered")
    assert answered["data"] == {
        **answered["data"],
        "invitation_id": inv["data"]["invitation_id"],
        "answer": "accept",
        "note": "Cần ổ điện 220V",
    }
    assert "the organiser will confirm it" in n.http.get(link, timeout=10).text

    # used again: refused, nothing written; then the organiser's verdict shows on the page
    again = n.http.post(link, data={"answer": "decline"}, timeout=10)
    assert again.status_code == 409 and "already been answered" in again.text
    assert written(n) == (before[0] + 1, before[1] + 1)
    assert n.deliver(about("events.invitation.accepted", inv, booth=7, booths=[7, 8])) == "handled"
    shown = n.http.get(link, timeout=10)
    assert "confirmed that you take part in the fair, booth 7, 8" in shown.text and "<form" not in shown.text


def test_the_cause_code_an_event_carries_decides_what_the_producer_reads(n):
    """events.invitation.withdrawn and .answer_refused carry a cause code beside their words: the
    message and the page follow the code, whatever the words (here not the events service's)."""
    inv, link = invited(n, email="htx.mam@example.vn")
    n.deliver(
        about(
            "events.invitation.withdrawn",
            inv,
            version=3,
            previous_status="issued",
            booths=[],
            reason="Sở Công Thương đã rà soát lại hồ sơ",
            cause="certificate_expired",
            detail="Mắm tôm Hậu Lộc",
        )
    )
    page = n.http.get(link, timeout=10)
    assert "Giấy chứng nhận OCOP của một sản phẩm được mời đã hết hiệu lực" in page.text  # the words name no product
    [row] = [d for d in n.deliveries(ref_id=inv["data"]["invitation_id"]) if d.template == "withdrawn"]
    assert "Giấy chứng nhận OCOP của sản phẩm Mắm tôm Hậu Lộc đã hết hiệu lực" in row.body_text

    other, _ = invited(n, email="htx.ruoi@example.vn")
    n.deliver(
        about(
            "events.invitation.answer_refused",
            other,
            version=1,
            answer="accept",
            reason="Không thể ghi nhận",
            cause="deadline_passed",
        )
    )
    [refused] = [d for d in n.deliveries(ref_id=other["data"]["invitation_id"]) if d.template == "answer_refused"]
    assert "Đã quá hạn trả lời thư mời." in refused.body_text


def test_a_refused_answer_and_a_withdrawn_invitation_say_why(n):
    inv, link = invited(n)
    assert n.http.post(link, data={"answer": "accept"}, timeout=10).status_code == 200
    n.deliver(
        about(
            "events.invitation.answer_refused",
            inv,
            version=1,
            answer="accept",
            reason="cannot accept: already exhibiting at Hội chợ Cần Thơ (2025-11-20 to 2025-11-24), "
            "which overlaps this fair",
        )
    )
    page = n.http.get(link, timeout=10)
    assert "Ban tổ chức không thể ghi nhận câu trả lời." in page.text
    assert "Quý đơn vị đã đăng ký tham gia Hội chợ Cần Thơ, trùng thời gian với hội chợ này." in page.text

    other, other_link = invited(n, email="htx.rut@example.vn")
    n.deliver(
        about(
            "events.invitation.withdrawn",
            other,
            version=3,
            previous_status="issued",
            booths=[],
            reason="withdrawn by the organiser: sản phẩm không đúng nhóm",
        )
    )
    page = n.http.get(other_link, timeout=10)
    assert page.status_code == 200 and "Ban tổ chức đã thu hồi lời mời này." in page.text
    assert "Ghi chú của ban tổ chức: sản phẩm không đúng nhóm" in page.text and "<form" not in page.text
    before = written(n)
    closed = n.http.post(other_link, data={"answer": "accept"}, timeout=10)
    assert closed.status_code == 409 and "không còn nhận câu trả lời" in closed.text
    assert written(n) == before


def test_links_that_cannot_be_used_get_a_clear_page_and_write_nothing(n):
    inv, link = invited(n, language="en")
    token = link.rsplit("/", 1)[1]
    base = link[: -len(token)]
    data = inv["data"]
    secret = n.settings.secret_key
    cases = {
        "tampered": (
            base + token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
            403,
            "Đường dẫn không hợp lệ hoặc đã bị sửa đổi",
        ),
        # signed with the right secret, but HMAC-SHA1 (itsdangerous's default), not SHA-256
        "sha-1": (
            base
            + URLSafeSerializer(secret, salt=links.SALT).dumps(
                {"inv": data["invitation_id"], "prod": data["producer_id"], "purpose": links.PURPOSE, "exp": 4102444800}
            ),
            403,
            "Đường dẫn không hợp lệ hoặc đã bị sửa đổi",
        ),
        "wrong purpose": (
            base
            + links._serializer(secret).dumps(
                {"inv": data["invitation_id"], "prod": data["producer_id"], "purpose": "unsubscribe", "exp": 4102444800}
            ),
            403,
            "không dùng để trả lời lời mời",
        ),
        # a genuine link past its deadline: the page knows whose it is and speaks English
        "expired": (
            base
            + links.make_token(
                secret, data["invitation_id"], data["producer_id"], datetime.now(UTC) - timedelta(seconds=1)
            ),
            410,
            "This link has expired",
        ),
        "someone else's": (
            base
            + links.make_token(secret, data["invitation_id"], str(uuid.uuid4()), datetime.now(UTC) + timedelta(days=3)),
            403,
            "Đường dẫn này được gửi cho một đơn vị khác",
        ),
        "unknown invitation": (
            base
            + links.make_token(secret, str(uuid.uuid4()), data["producer_id"], datetime.now(UTC) + timedelta(days=3)),
            404,
            "No invitation matches this link.",
        ),
    }
    before = written(n)
    for name, (url, status, words) in cases.items():
        for method in ("GET", "POST"):
            r = n.http.request(method, url, data={"answer": "accept"} if method == "POST" else None, timeout=10)
            assert r.status_code == status and words in r.text, (name, method, r.status_code)
            assert r.headers["Content-Type"].startswith("text/html") and "<form" not in r.text
    assert n.http.get(f"{n.url}/r/s/nosuchcode00?lang=en", timeout=10).status_code == 404
    # a bad form names its fields and keeps the form; nothing written
    for form, field in (
        ({}, "answer"),
        ({"answer": "maybe"}, "answer"),
        ({"answer": "accept", "note": "x" * 1001}, "note"),
    ):
        r = n.http.post(link, data=form, timeout=10)
        assert r.status_code == 422 and f"<li>{field}: " in r.text and "<form" in r.text
    assert written(n) == before
