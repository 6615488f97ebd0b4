"""Delivery guarantees across channels: one log row per message and channel; an SMTP server that
refuses, then accepts, gives exactly one email; a permanent refusal parks at once; the rate limit
holds a channel back; channel choices and opt-outs are honoured; a producer with no usable
channel is recorded, announced and listed for the trade officer; an event delivered twice gives
one message per channel; and no email address or phone number reaches the logs."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from support import free_port, wait_for
from test_notifications_sms import Receiver, gateway, notifier_factory, sms_settings  # noqa: F401 - fixtures

from services.notifications import domain
from services.notifications.webhook_targets import TargetPolicy


class Smtp:
    """A real SMTP server (aiosmtpd) answering DATA from a script (e.g. 451, then 250)."""

    def __init__(self, port: int | None = None):
        self.script: list[str] = []
        self.received: list = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port or free_port())
        self.port = self.controller.port
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # the test server's own log names addresses
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(0)
        with self.lock:
            answer = self.script.pop(0) if self.script else "250 2.0.0 accepted"
            if answer.startswith("250"):
                self.received.append(
                    message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                )
        return answer

    def stop(self):
        if not getattr(self, "stopped", False):
            self.stopped = True
            self.controller.stop()


@pytest.fixture
def smtp():
    s = Smtp()
    yield s
    s.stop()


def test_smtp_refuses_then_accepts_exactly_one_email(notifier_factory, smtp):  # noqa: F811
    n = notifier_factory(smtp_port=smtp.port)
    smtp.script = ["451 4.3.0 mailbox busy, try again later"]
    p = n.producer(email="htx.buoi@example.vn", sms=False)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    [row] = n.deliveries(cause_event_id=inv["id"])
    n.drain("email", lambda: n.deliveries(id=row.id)[0].status == "sent")
    done = n.deliveries(id=row.id)[0]
    assert done.attempts == 2 and done.last_error is None
    assert len(smtp.received) == 1 and smtp.received[0]["X-OCOP-Delivery"] == row.id
    assert smtp.received[0]["Subject"] == "Thư mời tham gia Hội chợ Trái cây Đồng bằng sông Cửu Long"
    assert [e["data"]["delivery_id"] for e in n.outbox("notifications.delivery.sent")] == [row.id]


def test_one_smtp_connection_for_many_messages_reopened_when_the_server_dropped_it(notifier_factory, smtp):  # noqa: F811
    """The sender keeps its SMTP connection open from message to message; a server that went away
    meanwhile (restarted, or closed the idle connection) is noticed before anything of the next
    message was sent, so that message goes on a fresh connection at once, in one attempt."""
    from services.notifications.worker import ChannelSender

    n = notifier_factory(smtp_port=smtp.port)
    sender = ChannelSender(n.rt, "email", limiter=domain.RateLimit(0))
    sessions = []
    real_connect = sender.adapter.session._connect
    sender.adapter.session._connect = lambda: sessions.append(1) or real_connect()
    try:
        producers = [n.producer(email=f"htx.conn{i}@example.vn", sms=False) for i in range(4)]
        for p in producers[:3]:
            n.deliver(n.invitation(p["producer_id"]))
        assert sender.run_once() == 3 and len(smtp.received) == 3 and len(sessions) == 1
        smtp.stop()  # the server goes away and comes back on the same port: the held connection is dead
        again = Smtp(port=smtp.port)
        try:
            n.deliver(n.invitation(producers[3]["producer_id"]))
            assert sender.run_once() == 1 and len(again.received) == 1 and len(sessions) == 2
        finally:
            again.stop()
    finally:
        sender.adapter.close()
    rows = n.deliveries(channel="email")
    assert [(d.status, d.attempts, d.last_error) for d in rows] == [("sent", 1, None)] * 4
    assert [e["data"]["delivery_id"] for e in n.outbox("notifications.delivery.sent")] == [d.id for d in rows]


def test_smtp_permanent_refusal_parks_at_once_without_the_address(notifier_factory, smtp):  # noqa: F811
    n = notifier_factory(smtp_port=smtp.port)
    smtp.script = ["550 5.1.1 <htx.khongton@example.vn>: no such user"]
    p = n.producer(email="htx.khongton@example.vn", sms=False)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    [row] = n.deliveries(cause_event_id=inv["id"])
    n.drain("email", lambda: n.deliveries(id=row.id)[0].status == "parked")
    parked = n.deliveries(id=row.id)[0]
    assert parked.attempts == 1 and parked.last_error == "SMTP 550: 5.1.1 <[email]>: no such user"
    [failed] = n.outbox("notifications.delivery.failed")
    assert failed["data"]["error"] == parked.last_error and "example.vn" not in str(failed)
    shown = n.call("GET", "/deliveries", "trade_officer", params={"status": "parked", "channel": "email"}).json()
    assert [(d["id"], d["last_error"]) for d in shown] == [(row.id, parked.last_error)]


def test_rate_limit_holds_a_channel_back(notifier_factory, gateway):  # noqa: F811
    from services.notifications.worker import ChannelSender, senders

    n = notifier_factory(**sms_settings(gateway), channel_rates={"email": 0.0, "sms": 2.0, "webhook": 7.0})
    assert {s.channel: s.limiter.rate for s in senders(n.rt)} == {"email": 0.0, "sms": 2.0, "webhook": 7.0}
    now = [0.0]
    sender = ChannelSender(n.rt, "sms", limiter=domain.RateLimit(2.0, burst=2, clock=lambda: now[0]))
    for i in range(4):
        p = n.producer(phone=f"09120004{i:02d}", email=None)
        n.deliver(n.invitation(p["producer_id"]))
    assert [sender.run_once() for _ in range(4)] == [1, 1, 0, 0]  # burst of 2, then wait
    assert len(gateway.requests) == 2 and len(n.deliveries(channel="sms", status="queued")) == 2
    now[0] += 0.5  # one more token
    assert [sender.run_once(), sender.run_once()] == [1, 0]
    now[0] += 60
    assert [sender.run_once(), sender.run_once()] == [1, 0]  # nothing left to send
    assert len(gateway.requests) == 4 and len(n.deliveries(channel="sms", status="sent")) == 4


def test_channel_choices_and_opt_outs_are_honoured(notifier_factory, gateway):  # noqa: F811
    n = notifier_factory(**sms_settings(gateway), smtp_port=free_port())
    p = n.producer(phone="0912 000 555", email="htx.cam@example.vn", sms=True)
    pid = p["producer_id"]
    me = n.call("GET", f"/recipients/{pid}", "producer", sub=pid).json()
    assert me["channels"]["email"] == {
        "contact": "h***@example.vn",
        "consent": True,
        "opted_out": False,
        "usable": True,
        "problem": None,
    }
    assert me["channels"]["sms"]["contact"] == "+84******555" and me["channels"]["sms"]["usable"]

    # the producer opts out of SMS: the next invitation goes by email only
    r = n.call("PATCH", f"/recipients/{pid}/channels", "producer", sub=pid, json={"sms": False})
    assert r.status_code == 200 and r.json()["channels"]["sms"]["problem"] == "opted out"
    inv = n.invitation(pid)
    n.deliver(inv)
    assert [d.channel for d in n.deliveries(cause_event_id=inv["id"])] == ["email"]
    # a registry update (new phone) keeps the producer's own choice
    n.producer(producer_id=pid, phone="0912 000 556", email="htx.cam@example.vn", version=2)
    assert n.call("GET", f"/recipients/{pid}", "trade_officer").json()["channels"]["sms"]["opted_out"] is True

    # back in for SMS, out of email; a message already queued for email is not sent after the opt-out
    n.call("PATCH", f"/recipients/{pid}/channels", "trade_officer", json={"sms": True})
    inv2 = n.invitation(pid)
    n.deliver(inv2)
    assert sorted(d.channel for d in n.deliveries(cause_event_id=inv2["id"])) == ["email", "sms"]
    n.call("PATCH", f"/recipients/{pid}/channels", "producer", sub=pid, json={"email": False})
    n.drain("email", lambda: all(d.status == "undeliverable" for d in n.deliveries(channel="email")))
    assert {d.last_error for d in n.deliveries(channel="email")} == {"email: opted out"}

    # someone else's choices are not another producer's to make; bad input names the field
    assert (
        n.call("PATCH", f"/recipients/{pid}/channels", "producer", sub="other", json={"sms": False}).status_code == 403
    )
    bad = n.call("PATCH", f"/recipients/{pid}/channels", "producer", sub=pid, json={"fax": True})
    assert bad.status_code == 422 and "fax" in bad.json()["errors"]["json"]
    bad = n.call("PATCH", f"/recipients/{pid}/channels", "producer", sub=pid, json={})
    assert bad.status_code == 422 and "email" in bad.json()["errors"]["json"]
    assert n.call("GET", "/recipients/nobody", "trade_officer").status_code == 404
    assert n.call("GET", f"/recipients/{pid}", "integration").status_code == 403


def test_producer_with_no_usable_channel_is_reported(notifier_factory):  # noqa: F811
    n = notifier_factory()  # no SMS gateway configured
    landline = n.producer(phone="0275 3822 123", email=None, sms=True, name="Cơ sở Bánh phồng Sơn Đốc")
    no_consent = n.producer(phone=None, email="htx.a@example.vn", mail=False, name="HTX Dừa Giồng Trôm")
    inv_a, inv_b = n.invitation(landline["producer_id"]), n.invitation(no_consent["producer_id"])
    for inv in (inv_a, inv_b):
        assert n.deliver(inv) == "handled"
    [row] = n.deliveries(cause_event_id=inv_a["id"])
    assert (row.channel, row.status) == ("none", "undeliverable")
    assert row.last_error == "email: no email address; sms: channel not configured"
    events = {e["data"]["producer_id"]: e for e in n.outbox("notifications.producer.unreachable")}
    assert events[no_consent["producer_id"]]["data"]["reasons"] == {
        "email": "no consent",
        "sms": "channel not configured",
    }
    assert events[landline["producer_id"]]["data"]["ref_id"] == inv_a["data"]["invitation_id"]

    listed = n.call("GET", "/unreachable", "trade_officer").json()
    by_id = {u["producer_id"]: u for u in listed}
    assert set(by_id) == {landline["producer_id"], no_consent["producer_id"]}
    assert by_id[landline["producer_id"]]["name"] == "Cơ sở Bánh phồng Sơn Đốc"
    assert [m["cause_event_id"] for m in by_id[landline["producer_id"]]["messages"]] == [inv_a["id"]]
    assert "0275" not in str(listed) and "example.vn" not in str(listed)
    assert n.call("GET", "/unreachable", "trade_officer", params={"since": "2999-01-01T00:00:00+00:00"}).json() == []
    assert n.call("GET", "/unreachable", "trade_officer", params={"since": "yesterday"}).status_code == 422
    assert n.call("GET", "/unreachable", "integration").status_code == 403
    # the delivery log shows the same, under channel "none"
    none = n.call("GET", "/deliveries", "trade_officer", params={"channel": "none"}).json()
    assert {d["producer_id"] for d in none} == set(by_id)


def test_the_same_event_twice_gives_one_message_per_channel(notifier_factory, gateway, smtp):  # noqa: F811
    from services.notifications.channels import producer_channels
    from services.notifications.consumers import handlers  # noqa: F401
    from services.notifications.reactions import react
    from shared.contracts import parse_envelope

    n = notifier_factory(**sms_settings(gateway), smtp_port=smtp.port)
    p = n.producer(phone="0912 000 777", email="htx.xoai@example.vn")
    inv = n.invitation(p["producer_id"])
    assert [n.deliver(inv), n.deliver(inv)] == ["handled", "duplicate"]
    # and even past the inbox (a handler run again on its own): still one row per channel
    envelope, data = parse_envelope(inv)
    with n.rt.transaction() as s:
        again = react(s, n.rt.emit, envelope, data, n.settings, producer_channels(n.settings))
    assert sorted(d.channel for d in again) == ["email", "sms"]
    rows = n.deliveries(cause_event_id=inv["id"])
    assert sorted(r.channel for r in rows) == ["email", "sms"]
    n.drain("email", lambda: n.deliveries(channel="email")[0].status == "sent")
    n.drain("sms", lambda: n.deliveries(channel="sms")[0].status == "sent")
    assert len(smtp.received) == 1 and len(gateway.requests) == 1


STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# an email address, or a phone number as the code writes one (E.164 "+84912345999", or national
# "0912 345 999", "0275 3822 999", "0912.345.999"), standing alone: never digits inside an identifier
PII = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|(?<![\w+])(?:\+84|0)\d{2,3}[\s.]?\d{3,4}[\s.]?\d{3,4}(?![\w])")
IDENTIFIER = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # UUIDs
    r"|\b(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b",
    re.I,
)  # hex ids


def personal_data(text: str) -> list[str]:
    """Email addresses and phone numbers in a log text, its identifiers (UUIDs, hex ids) left out."""
    return PII.findall(IDENTIFIER.sub(" ", text))


def test_the_personal_data_check_finds_contacts_and_not_identifiers():
    line = (
        "delivery 0b1c2d3e-4f50-4617-8aa9-7658740aa014 881252dd-1f0e-4a3b-9c2d-0e1f2a3b4c5d failed, "
        "message 7658740aa014881252 job 0912345999abc"
    )
    assert personal_data(line) == []
    for contact in ("htx.log1@example.vn", "+84912345999", "0912 345 999", "0275 3822 999", "0912.345.999"):
        assert personal_data(f"refused <{contact}>: no such user") == [contact], contact


def test_no_email_address_or_phone_number_in_the_logs(notifier_factory, gateway, smtp, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    n = notifier_factory(
        **sms_settings(gateway),
        smtp_port=smtp.port,
        channel_attempts={"email": 2, "sms": 2, "webhook": 2},
        extra={"webhook_policy": TargetPolicy.parse(allow_http="1", networks="127.0.0.0/8")},
    )
    smtp.script = ["451 4.3.0 <htx.log1@example.vn> busy", "550 5.1.1 <htx.log1@example.vn>: no such user"]
    gateway.script = [(500, {}), (400, {})]
    hook = Receiver()
    hook.script = [500, 500]
    try:
        assert (
            n.call(
                "POST", "/webhooks", "integration", json={"url": hook.url, "event_types": ["events.invitation.issued"]}
            ).status_code
            == 201
        )
        p = n.producer(phone="0912 345 999", email="htx.log1@example.vn", name="HTX Nhãn xuồng Cơm vàng")
        n.deliver(n.invitation(p["producer_id"]))
        nobody = n.producer(phone="0275 3822 999", email=None, sms=True)
        n.deliver(n.invitation(nobody["producer_id"]))
        n.drain("email", lambda: n.deliveries(channel="email")[0].status == "parked")
        n.drain("sms", lambda: n.deliveries(channel="sms")[0].status == "parked")
        n.drain("webhook", lambda: len(hook.requests) == 2)
        n.call("GET", f"/recipients/{p['producer_id']}", "trade_officer")
    finally:
        hook.stop()
    assert len(smtp.received) == 0 and len(gateway.requests) == 2
    records = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert any(r.name.startswith("ocop.notifications") for r in records)  # the failures were logged ...
    for record in records:  # ... and no record carries an address, in its message or its extra fields
        text = record.getMessage() + " " + " ".join(str(v) for k, v in vars(record).items() if k not in STANDARD)
        assert personal_data(text) == [], (record.name, text)
    assert all(personal_data(d.last_error or "") == [] for d in n.deliveries())


def test_a_batch_longer_than_the_lease_keeps_its_claim(notifier_factory, smtp, monkeypatch):  # noqa: F811
    """A sender renews the claim on the rest of its batch as it goes: once the claim as first taken
    has run out (the second message is still being sent), another sender finds nothing to take, and
    each message leaves once, in one attempt. Each step waits on a condition, never a guessed time:
    the first message lasts until the sender is due to renew (most of the lease), the second until the
    first claim has run out; then the other sender looks."""
    from datetime import UTC, datetime, timedelta

    from services.notifications.worker import ChannelSender

    lease = 2.0
    n = notifier_factory(smtp_port=smtp.port, send_lease_seconds=lease)
    slow = ChannelSender(n.rt, "email", limiter=domain.RateLimit(0))
    other = ChannelSender(n.rt, "email", limiter=domain.RateLimit(0))
    for i in range(6):
        n.deliver(n.invitation(n.producer(email=f"htx.lease{i}@example.vn", sms=False)["producer_id"]))
    real_send = slow.adapter.send
    sent, taken = [], []

    def send_slowly(job, recipient):
        sent.append(job)
        first_claim = sent[0].claimed_until
        if len(sent) == 1:  # past a quarter of the lease, so the sender renews before the next message
            wait_for(
                lambda: datetime.now(UTC) > first_claim - timedelta(seconds=lease * 0.1),
                timeout=10,
                message="most of the lease gone",
            )
        elif len(sent) == 2:  # the claim as first taken has run out: without renewal, the rest is up for grabs
            wait_for(lambda: datetime.now(UTC) > first_claim, timeout=10, message="the first claim run out")
            taken.append(other.run_once())
        return real_send(job, recipient)

    slow.adapter.send = send_slowly
    try:
        assert slow.run_once() == 6
    finally:
        slow.adapter.close()
        other.adapter.close()
    assert taken == [0]  # the other sender looked when the first claim had run out, and found nothing
    rows = n.deliveries(channel="email")
    assert sorted(m["X-OCOP-Delivery"] for m in smtp.received) == sorted(d.id for d in rows)
    assert [(d.status, d.attempts, d.last_error) for d in rows] == [("sent", 1, None)] * 6
