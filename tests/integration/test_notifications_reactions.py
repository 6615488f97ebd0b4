"""The notifications service's reactions to the events service's and the registry's events, fed
as contract-valid envelopes (from the golden samples, with fresh ids) through the real consumer:
invitations withdrawn, waitlist promotions, fairs changed or cancelled, answers confirmed,
certificates expiring and expired. Each is one message per producer and channel, in the
producer's language, and stays one when the event comes twice or its companions come in another
order. Emails go to a real SMTP server and are parsed back."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header

import pytest
from icalendar import Calendar
from test_notifications_guarantees import Smtp, smtp  # noqa: F401 - fixture
from test_notifications_sms import event, gateway, notifier_factory, sms_settings  # noqa: F401 - fixtures

from shared.contracts import sample

FAIR = "Hội chợ Trái cây Đồng bằng sông Cửu Long"


class World:
    """One notifications service and the events it is fed, with helpers to make them."""

    def __init__(self, n):
        self.n = n
        self.fair_id = str(uuid.uuid4())
        self.fair_version = 3

    def producer(self, **kw) -> str:
        return self.n.producer(**kw)["producer_id"]

    def issued(self, producer_id: str, invitation_id: str | None = None, **changes) -> dict:
        data = sample("events.invitation.issued", 1)["data"]
        data.update(
            invitation_id=invitation_id or str(uuid.uuid4()),
            producer_id=producer_id,
            deadline=(datetime.now(UTC) + timedelta(days=10)).isoformat(),
            **changes,
        )
        data["fair"] = {**data["fair"], "fair_id": self.fair_id, "name": FAIR}
        return event("events.invitation.issued", data["invitation_id"], 1, data)

    def about(self, type_: str, inv: dict, version: int = 2, **changes) -> dict:
        """An event about the invitation ``inv`` (an issued envelope): accepted, withdrawn, ..."""
        data = sample(type_, 1)["data"]
        if "reason" in changes:  # other words than the sample's (an event from before the cause codes)
            data.pop("cause", None), data.pop("detail", None)
        data.update(invitation_id=inv["data"]["invitation_id"], producer_id=inv["data"]["producer_id"])
        if "fair_id" in data:
            data["fair_id"] = self.fair_id
        data.update(changes)
        return event(type_, data["invitation_id"], version, data)

    def fair_event(self, type_: str, **changes) -> dict:
        self.fair_version += 1
        data = sample(type_, 1)["data"]
        data.update(fair_id=self.fair_id, name=FAIR, **changes)
        return event(type_, self.fair_id, self.fair_version, data)

    def certificate(self, type_: str, producer_id: str, **changes) -> dict:
        data = sample(type_, 1)["data"]
        data.update(certification_id=str(uuid.uuid4()), producer_id=producer_id, **changes)
        return event(type_, data["product_id"], 2, data)

    def feed(self, *envelopes) -> list[str]:
        return [self.n.deliver(e) for e in envelopes]

    def messages(self, producer_id: str, channel: str | None = "email") -> list:
        rows = self.n.deliveries(producer_id=producer_id)
        return [(d.template, d.subject) for d in rows if channel is None or d.channel == channel]


@pytest.fixture
def world(notifier_factory, smtp, gateway):  # noqa: F811
    return World(notifier_factory(smtp_port=smtp.port, **sms_settings(gateway)))


def emailed(smtp, n, count: int) -> list:  # noqa: F811
    n.drain("email", lambda: len(smtp.received) >= count and not n.deliveries(channel="email", status="queued"))
    return smtp.received


def test_withdrawal_for_a_revoked_certificate_reaches_every_channel_once(world, smtp, gateway):  # noqa: F811
    n = world.n
    pid = world.producer(email="htx.keo@example.vn", phone="0912 000 101")
    inv = world.issued(pid)
    accepted = world.about("events.invitation.accepted", inv, booth=17, booths=[17])
    withdrawn = world.about(
        "events.invitation.withdrawn",
        inv,
        version=3,
        previous_status="accepted",
        booths=[17],
        reason="the certificate of Kẹo dừa sầu riêng Thanh Long was revoked (QĐ 2210/QĐ-UBND)",
    )
    assert world.feed(inv, accepted, withdrawn, withdrawn) == ["handled", "handled", "handled", "duplicate"]
    rows = [d for d in n.deliveries(cause_event_id=withdrawn["id"])]
    assert sorted(d.channel for d in rows) == ["email", "sms"] and {d.template for d in rows} == {"withdrawn"}
    mails = emailed(smtp, n, 3)
    [mail] = [m for m in mails if m["X-OCOP-Delivery"] in {d.id for d in rows}]
    assert mail["Subject"] == f"Thu hồi thư mời tham gia {FAIR}"
    text = mail.get_body(("plain",)).get_content()
    assert "Giấy chứng nhận OCOP của sản phẩm Kẹo dừa sầu riêng Thanh Long đã bị thu hồi" in text
    assert "Gian hàng số 17 không còn được giữ cho quý đơn vị." in text
    [ics] = list(mail.iter_attachments())
    [entry] = Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert str(entry["uid"]) == f"{inv['data']['invitation_id']}@ocop.local" and str(entry["status"]) == "CANCELLED"
    n.drain("sms", lambda: len(gateway.requests) == 3)
    assert "đã thu hồi thư mời" in gateway.json(2)["text"]
    # a waitlisted invitation withdrawn: its producer never heard of it, so nothing is said
    other = world.producer(email="htx.cho@example.vn", sms=False)
    silent = world.about(
        "events.invitation.withdrawn",
        {"data": {"invitation_id": str(uuid.uuid4()), "producer_id": other}},
        previous_status="waitlisted",
        booths=[],
        reason="the certificate of X was expired",
    )
    assert world.feed(silent) == ["handled"] and world.messages(other, None) == []


@pytest.mark.parametrize("order", ["promoted_first", "issued_first"])
def test_a_promotion_is_one_offer_whichever_event_comes_first(world, smtp, order):  # noqa: F811
    pid = world.producer(email="htx.nhan@example.vn", sms=False, language="en")
    inv = world.issued(pid)
    promoted = world.about(
        "events.waitlist.promoted", inv, version=2, rank=251, cause="declined", deadline=inv["data"]["deadline"]
    )
    inv["subject_version"] = 3
    first, second = (promoted, inv) if order == "promoted_first" else (inv, promoted)
    assert world.feed(first, second, first, second) == ["handled", "handled", "duplicate", "duplicate"]
    [(template, subject)] = world.messages(pid)
    if order == "promoted_first":  # the offer knows it comes from the waitlist
        assert (template, subject) == ("promotion", f"A place is free for you: {FAIR}")
    else:  # the offer went out before the promotion was known; the promotion adds nothing
        assert (template, subject) == ("invitation", f"Invitation to {FAIR}")
    [mail] = emailed(smtp, world.n, 1)
    assert ("next on the waitlist" in mail.get_body(("plain",)).get_content()) == (order == "promoted_first")
    # even an events service that announced the same offer again would not make a second one
    again = dict(inv, id=str(uuid.uuid4()))
    assert world.feed(again) == ["handled"] and len(world.messages(pid)) == 1


def test_a_fair_change_reaches_those_accepted_and_those_invited_with_the_old_and_new_values(world, smtp):  # noqa: F811
    n = world.n
    took, open_, said_no = (world.producer(email=f"htx.{i}@example.vn", sms=False) for i in ("a", "b", "c"))
    inv_took, inv_open, inv_no = world.issued(took), world.issued(open_), world.issued(said_no)
    world.feed(
        inv_took,
        inv_open,
        inv_no,
        world.about("events.invitation.accepted", inv_took, booth=8, booths=[8]),
        world.about("events.invitation.declined", inv_no),
    )
    before = len(n.deliveries(channel="email"))
    # capacity and rules are nothing a producer needs to hear about ...
    quiet = world.fair_event("events.fair.updated", changed=["capacity", "rules"], capacity=300)
    # ... a new venue and dates are, with the old values beside the new
    loud = world.fair_event(
        "events.fair.updated",
        changed=["venue", "ends_on"],
        venue="Nhà văn hóa Thanh Niên",
        starts_on="2025-11-20",
        ends_on="2025-11-26",
    )
    assert world.feed(quiet, loud, loud) == ["handled", "handled", "duplicate"]
    assert len(n.deliveries(channel="email")) == before + 2
    assert [t for t, _ in world.messages(said_no)] == ["invitation", "declined"]
    by_pid = {d.producer_id: d for d in n.deliveries(cause_event_id=loud["id"])}
    assert set(by_pid) == {took, open_}
    text = by_pid[took].body_text
    assert "- Địa điểm: Nhà văn hóa Thanh Niên (trước đây: Trung tâm Hội chợ và Triển lãm Sài Gòn (SECC)" in text
    assert "- Thời gian: từ 20/11/2025 đến 26/11/2025 (trước đây: từ 20/11/2025 đến 24/11/2025)" in text
    assert "Gian hàng của quý đơn vị: số 8." in text and "/r/" not in text
    assert "Thư mời vẫn đang chờ quý đơn vị trả lời." in by_pid[open_].body_text and "/r/" in by_pid[open_].body_text
    # the new calendar entry replaces the invitation's (same UID, later SEQUENCE, the new end date)
    [ics] = by_pid[took].attachments
    [entry] = Calendar.from_ical(ics["content"]).walk("VEVENT")
    assert str(entry["uid"]) == f"{inv_took['data']['invitation_id']}@ocop.local" and int(entry["sequence"]) > 0
    assert entry.decoded("dtend").isoformat() == "2025-11-27"
    # an older change arriving late is old news: nothing more is sent
    stale = event("events.fair.updated", world.fair_id, 2, {**loud["data"], "changed": ["venue"], "venue": "Cũ"})
    assert world.feed(stale) == ["handled"] and not n.deliveries(cause_event_id=stale["id"])
    # the open invitation's answer page shows the new venue
    [link] = re.findall(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+", by_pid[open_].body_text)
    page = n.http.get(link, timeout=10)
    assert page.status_code == 200 and "Nhà văn hóa Thanh Niên" in page.text
    emailed(smtp, n, before + 2)


@pytest.mark.parametrize("order", ["withdrawals_first", "cancellation_first"])
def test_a_cancelled_fair_is_told_once_to_each_producer(world, order):
    n = world.n
    took, open_ = world.producer(email="htx.x@example.vn", sms=False), world.producer(email="htx.y@example.vn")
    inv_took, inv_open = world.issued(took), world.issued(open_)
    world.feed(inv_took, inv_open, world.about("events.invitation.accepted", inv_took, booth=3, booths=[3]))
    why = "Bão số 7 đổ bộ, Ủy ban nhân dân thành phố hoãn mọi sự kiện đông người"
    withdrawals = [
        world.about(
            "events.invitation.withdrawn",
            inv,
            version=4,
            previous_status=prev,
            booths=booths,
            reason=f"the fair was cancelled: {why}",
        )
        for inv, prev, booths in ((inv_took, "accepted", [3]), (inv_open, "issued", []))
    ]
    cancelled = world.fair_event("events.fair.cancelled", reason=why, previous_status="inviting")
    events = [*withdrawals, cancelled] if order == "withdrawals_first" else [cancelled, *withdrawals]
    assert world.feed(*events, *events) == ["handled"] * 3 + ["duplicate"] * 3
    for pid in (took, open_):
        assert [t for t, _ in world.messages(pid) if t not in ("invitation", "accepted")] == ["fair_cancelled"]
    rows = {d.producer_id: d for d in n.deliveries(cause_event_id=cancelled["id"], channel="email")}
    assert rows[took].subject == f"Thông báo hủy {FAIR}" and f"Lý do: {why}" in rows[took].body_text
    assert "Gian hàng số 3 không còn được giữ" in rows[took].body_text
    assert "Thư mời của quý đơn vị được thu hồi và không cần trả lời." in rows[open_].body_text
    assert not [d for d in n.deliveries() if d.template == "withdrawn"]


def test_answers_are_confirmed_in_the_producers_language(world, smtp):  # noqa: F811
    n = world.n
    vi, en, late = (
        world.producer(email=f"htx.{k}@example.vn", sms=False, language=lang)
        for k, lang in (("vi", "vi"), ("en", "en"), ("late", "vi"))
    )
    inv_vi, inv_en, inv_late = world.issued(vi), world.issued(en), world.issued(late)
    note = "Chúng tôi cần ổ điện 220V."
    results = world.feed(
        inv_vi,
        inv_en,
        inv_late,
        world.about("events.invitation.accepted", inv_vi, booth=42, booths=[42, 43], note=note),
        world.about("events.invitation.declined", inv_en, note=None),
        world.about(
            "events.invitation.answer_refused",
            inv_late,
            version=1,
            answer="accept",
            reason="the deadline 2025-10-31T10:00:00+00:00 has passed",
        ),
    )
    assert results == ["handled"] * 6
    assert world.messages(vi)[1] == ("accepted", f"Xác nhận tham gia {FAIR}, gian hàng số 42, 43")
    assert world.messages(en)[1] == ("declined", f"Your answer is recorded: you decline {FAIR}")
    assert world.messages(late)[1] == ("answer_refused", f"Chưa thể ghi nhận câu trả lời cho thư mời tham gia {FAIR}")
    mails = {str(make_header(decode_header(m["To"]))).split("<")[-1].rstrip(">"): m for m in emailed(smtp, n, 6)}
    accepted = mails["htx.vi@example.vn"]
    text = accepted.get_body(("plain",)).get_content()
    assert "Gian hàng của quý đơn vị: số 42, 43." in text and note in text
    [entry] = Calendar.from_ical(next(accepted.iter_attachments()).get_content()).walk("VEVENT")
    assert str(entry["status"]) == "CONFIRMED" and "42, 43" in str(entry["summary"])
    assert "Đã quá hạn trả lời thư mời." in mails["htx.late@example.vn"].get_body(("plain",)).get_content()
    assert mails["htx.en@example.vn"]["Content-Language"] == "en"


def test_certificates_expiring_and_expired_are_noticed_once(world, smtp, gateway):  # noqa: F811
    n = world.n
    vi = world.producer(email="htx.dua@example.vn", phone="0912 000 202", name="HTX Dừa Giồng Trôm")
    en = world.producer(email="htx.en2@example.vn", sms=False, language="en")
    expiring = world.certificate(
        "registry.certification.expiring", vi, product_name="Dầu dừa tinh khiết", valid_until="2028-07-20", days_left=30
    )
    expired = world.certificate(
        "registry.certification.expired", en, product_name="Bánh phồng Sơn Đốc", valid_until="2028-07-20"
    )
    assert world.feed(expiring, expired, expiring) == ["handled", "handled", "duplicate"]
    assert sorted(d.channel for d in n.deliveries(cause_event_id=expiring["id"])) == ["email", "sms"]
    [row] = n.deliveries(cause_event_id=expiring["id"], channel="email")
    assert row.subject == "Giấy chứng nhận OCOP của Dầu dừa tinh khiết hết hiệu lực ngày 20/07/2028"
    assert "còn 30 ngày" in row.body_text and "tái chứng nhận" in row.body_text
    assert row.ref_id == expiring["data"]["certification_id"]
    [row_en] = n.deliveries(cause_event_id=expired["id"])
    assert row_en.subject == "The OCOP certificate of Bánh phồng Sơn Đốc has expired" and row_en.language == "en"
    emailed(smtp, n, 2)
    n.drain("sms", lambda: len(gateway.requests) == 1)
    assert "Dầu dừa tinh khiết hết hiệu lực ngày 20/07/2028" in gateway.json(0)["text"]


def test_a_batch_of_invitations_in_one_transaction_does_what_one_by_one_does(world, gateway, caplog):  # noqa: F811
    """The consumer hands a batch of invitations to one handler in one transaction (a fair's
    publication sends hundreds): the same messages, promotions, unreachable producers and
    records as one by one, and a redelivered batch adds nothing."""
    import json

    from sqlalchemy import func, select

    from services.notifications.models import InvitationView, ShortLink

    n = world.n
    a, b = (
        world.producer(email="htx.ba@example.vn", sms=False),
        world.producer(email="htx.bb@example.vn", phone="0912 000 404"),
    )
    c, d = world.producer(email=None, phone=None), world.producer(email="htx.bd@example.vn", sms=False, language="en")
    inv_a, inv_b, inv_c, inv_d = (world.issued(p) for p in (a, b, c, d))
    promoted = world.about(
        "events.waitlist.promoted", inv_d, rank=12, cause="expired", deadline=inv_d["data"]["deadline"]
    )
    assert world.feed(promoted) == ["handled"]
    again_a = dict(inv_a, id=str(uuid.uuid4()))  # the same invitation announced twice in one batch

    def raw(env):
        return (
            json.dumps(env, ensure_ascii=False).encode(),
            "application/json",
            {"message_id": env["id"], "type": env["type"]},
        )

    batch = [raw(e) for e in (inv_a, inv_b, inv_c, inv_d, again_a)]
    caplog.set_level(logging.INFO, logger="ocop.consumer")
    assert n.consumer.handle_batch(batch) == ["handled"] * 5
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]  # the batch path itself
    assert n.consumer.handle_batch(batch) == ["duplicate"] * 5
    assert world.messages(a) == [("invitation", f"Thư mời tham gia {FAIR}")]
    assert sorted(ch for ch, _ in [(x.channel, x) for x in n.deliveries(producer_id=b)]) == ["email", "sms"]
    assert world.messages(d) == [("promotion", f"A place is free for you: {FAIR}")]
    [none] = n.deliveries(producer_id=c)
    assert (none.channel, none.status) == ("none", "undeliverable")
    [gone] = n.outbox("notifications.producer.unreachable")
    assert gone["data"]["producer_id"] == c and gone["correlation_id"] == inv_c["correlation_id"]
    assert gone["causation_id"] == inv_c["id"]
    with n.rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(InvitationView)) == 4
        assert s.scalar(select(func.count()).select_from(ShortLink)) == 4
    [sms] = n.deliveries(producer_id=b, channel="sms")
    assert sms.body_text.rsplit(" ", 1)[1].startswith(f"{n.url}/r/s/")
    assert n.http.get(sms.body_text.rsplit(" ", 1)[1], timeout=10).status_code == 200
