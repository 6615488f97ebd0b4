"""Reminders before an invitation's deadline (3 and 1 days before by default): queued by the
worker's sweep or ``manage remind``, once each whatever runs them and how often, in the
producer's language with the answer link; none once the producer answered or the invitation was
withdrawn, expired or confirmed, and a reminder already queued is cancelled, not sent, when that
happens before its turn."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from support import ROOT, TEST_SECRET
from test_notifications_answers import about
from test_notifications_guarantees import Smtp, smtp  # noqa: F401 - fixture
from test_notifications_sms import gateway, notifier_factory, sms_settings  # noqa: F401 - fixtures

from services.notifications.worker import Reminders


@pytest.fixture
def n(notifier_factory, smtp, gateway):  # noqa: F811
    return notifier_factory(smtp_port=smtp.port, **sms_settings(gateway), extra={"reminder_days": (3, 1)})


def invited(n, **producer):
    p = n.producer(**{"email": "htx.nhac@example.vn", "sms": False, **producer})
    inv = n.invitation(p["producer_id"])
    assert n.deliver(inv) == "handled"
    return inv, datetime.fromisoformat(inv["data"]["deadline"])


def reminders(n, **where) -> list:
    return [d for d in n.deliveries(template="reminder", **where)]


def test_three_days_and_one_day_before_each_once(n, smtp, gateway):  # noqa: F811
    inv, deadline = invited(n, phone="0912 000 303", sms=True, language="vi")
    sweep = Reminders(n.rt)
    assert sweep.run_once(deadline - timedelta(days=3, minutes=1)) == 0  # not yet
    at = deadline - timedelta(days=3) + timedelta(minutes=1)
    assert [sweep.run_once(at), sweep.run_once(at), Reminders(n.rt).run_once(at + timedelta(hours=30))] == [1, 0, 0]
    three = reminders(n)
    assert sorted(d.channel for d in three) == ["email", "sms"]
    assert {d.ref_id for d in three} == {inv["data"]["invitation_id"]}
    assert sweep.run_once(deadline - timedelta(hours=23)) == 1 and sweep.run_once(deadline - timedelta(hours=2)) == 0
    assert len(reminders(n)) == 4
    assert sweep.run_once(deadline + timedelta(minutes=1)) == 0  # past the deadline: nothing

    n.drain("email", lambda: len(smtp.received) == 3)
    mails = [m for m in smtp.received if m["Subject"].startswith("Nhắc hạn")]
    assert len(mails) == 2
    texts = sorted(m.get_body(("plain",)).get_content() for m in mails)
    assert "Chỉ còn 1 ngày để trả lời." in texts[0] and "Chỉ còn 3 ngày để trả lời." in texts[1]
    links = {re.search(r"http://127\.0\.0\.1:\d+/r/\S+", t).group() for t in texts}
    assert len(links) == 1 and n.http.get(links.pop(), timeout=10).status_code == 200
    n.drain("sms", lambda: len(gateway.requests) == 3)
    assert sum("nhắc hạn" in gateway.json(i)["text"] for i in range(3)) == 2


def test_no_reminder_once_answered_withdrawn_expired_or_confirmed_and_a_queued_one_is_cancelled(n, smtp):  # noqa: F811
    sweep = Reminders(n.rt)
    answered, deadline = invited(n, email="htx.a1@example.vn")
    withdrawn, _ = invited(n, email="htx.a2@example.vn")
    expired, _ = invited(n, email="htx.a3@example.vn")
    confirmed, _ = invited(n, email="htx.a4@example.vn")
    late, _ = invited(n, email="htx.a5@example.vn")
    n.deliver(
        about(
            "events.invitation.withdrawn",
            withdrawn,
            version=3,
            previous_status="issued",
            booths=[],
            reason="withdrawn by the organiser: nhầm đơn vị",
        )
    )
    n.deliver(about("events.invitation.expired", expired, deadline=expired["data"]["deadline"]))
    n.deliver(about("events.invitation.accepted", confirmed, booth=4, booths=[4]))
    # answered through the page before the sweep: no reminder
    [row] = n.deliveries(cause_event_id=answered["id"])
    link = re.search(r"http://127\.0\.0\.1:\d+/r/\S+", row.body_text).group()
    assert n.http.post(link, data={"answer": "decline"}, timeout=10).status_code == 200
    at = deadline - timedelta(days=3) + timedelta(minutes=1)
    assert sweep.run_once(at) == 1
    [queued] = reminders(n)
    assert queued.ref_id == late["data"]["invitation_id"] and queued.status == "queued"

    # the last one answers after its reminder was queued, before the sender's turn: cancelled, not sent
    [row] = n.deliveries(cause_event_id=late["id"])
    link = re.search(r"http://127\.0\.0\.1:\d+/r/\S+", row.body_text).group()
    assert n.http.post(link, data={"answer": "accept"}, timeout=10).status_code == 200
    n.drain("email", lambda: not n.deliveries(channel="email", status="queued"))
    cancelled = reminders(n)[0]
    assert (cancelled.status, cancelled.last_error) == ("cancelled", "the producer has answered")
    assert not [m for m in smtp.received if m["Subject"].startswith("Nhắc hạn")]
    assert sweep.run_once(deadline - timedelta(hours=23)) == 0
    listed = n.call("GET", "/deliveries", "trade_officer", params={"status": "cancelled"}).json()
    assert [d["id"] for d in listed] == [cancelled.id]


def test_a_late_promotion_gets_no_three_day_reminder_and_the_english_wording(n):
    inv, deadline = invited(n, language="en")
    from sqlalchemy import update

    from services.notifications.models import InvitationView

    with n.rt.transaction() as s:  # as if offered (promoted) two days before its deadline
        s.execute(
            update(InvitationView)
            .where(InvitationView.invitation_id == inv["data"]["invitation_id"])
            .values(issued_at=deadline - timedelta(days=2))
        )
    sweep = Reminders(n.rt)
    assert sweep.run_once(deadline - timedelta(days=1, hours=12)) == 0
    assert sweep.run_once(deadline - timedelta(hours=20)) == 1
    [row] = reminders(n)
    assert row.language == "en" and row.subject.startswith("Reminder: the invitation to")
    assert "Only 1 day is left to answer." in row.body_text


def test_two_workers_sweeping_at_once_queue_each_reminder_once(n):
    invitations = [invited(n, email=f"htx.w{i}@example.vn") for i in range(12)]
    at = invitations[0][1] - timedelta(days=3) + timedelta(minutes=1)
    results, barrier = [], threading.Barrier(2)

    def sweep():
        barrier.wait()
        results.append(Reminders(n.rt).run_once(at))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 12 and len(reminders(n)) == 12
    assert len({d.ref_id for d in reminders(n)}) == 12


def test_manage_remind_queues_what_is_due(n):
    inv, deadline = invited(n)
    env = {
        **os.environ,
        "NOTIFICATIONS_DATABASE_URL": n.settings.database_url,
        "OCOP_SECRET_KEY": TEST_SECRET,
        "OCOP_REMINDER_DAYS": "2",
        "OCOP_LOG_LEVEL": "WARNING",
    }
    at = (deadline - timedelta(days=1)).astimezone(UTC).isoformat()

    def remind(*args):
        out = subprocess.run(
            [sys.executable, "-m", "services.notifications.manage", "remind", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return out.returncode, out.stdout, out.stderr

    assert remind("--at", at)[:2] == (0, '{"queued": 1}\n')
    assert remind("--at", at)[:2] == (0, '{"queued": 0}\n')
    assert json.loads(remind("--at", at)[1]) == {"queued": 0}
    [row] = reminders(n)
    assert "Chỉ còn 2 ngày để trả lời." in row.body_text
    code, _, err = remind("--at", "2025-10-28T09:00:00")
    assert code == 2 and "time zone" in err
