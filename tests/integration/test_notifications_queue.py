"""The delivery queue's own guarantees, statement by statement (both modes: on PostgreSQL these run
the driver-level statement of delivery_queue.record_sent): a sent delivery is recorded one way,
only while its claim holds, with its notifications.delivery.sent in the same transaction; a job is
a typed, frozen record whose renewed claim is a new record; the senders' settings come from
Settings; a parked delivery and a parked webhook delivery are re-driven by the same code."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from test_notifications_sms import notifier_factory  # noqa: F401 - fixture

from services.notifications import delivery_queue as queue
from services.notifications.channels import producer_channels
from services.notifications.emitter import FanOutEmitter
from services.notifications.models import Delivery, WebhookDelivery, WebhookSubscription
from services.notifications.redrive import redrive
from services.notifications.views import aware
from shared.errors import Conflict, NotFound


@pytest.fixture
def n(notifier_factory):  # noqa: F811
    return notifier_factory()


def queued(n, count: int = 1) -> list[str]:
    """``count`` invitations by email only; their delivery ids."""
    ids = []
    for i in range(count):
        p = n.producer(email=f"htx.queue{i}@example.vn", sms=False)
        inv = n.invitation(p["producer_id"])
        assert n.deliver(inv) == "handled"
        ids += [d.id for d in n.deliveries(cause_event_id=inv["id"])]
    return ids


def claimed(n, limit: int = 10, lease: float = 60) -> list[queue.Job]:
    with n.rt.transaction() as s:
        jobs, settled = queue.claim(s, "email", limit, lease, producer_channels(n.settings))
    assert settled == 0
    return jobs


def record(n, emit, job, outcome, following=None):
    with n.rt.engine.connect() as conn, conn.begin():
        return queue.record_sent(conn, emit, job, outcome, following)


def test_a_sent_delivery_is_recorded_with_its_event_and_the_next_one_handed(n):
    first, second = queued(n, 2)
    jobs = claimed(n)
    assert [j.id for j in jobs] == [first, second]
    row = record(n, FanOutEmitter(n.rt.emit), jobs[0], queue.Sent("<ref@x>"), jobs[1])
    assert row is not None
    [done] = n.deliveries(id=first)
    assert (done.status, done.attempts, done.provider_ref, done.claimed_until, done.last_error) == (
        "sent",
        1,
        "<ref@x>",
        None,
        None,
    )
    assert n.deliveries(id=second)[0].handed_at is not None  # handed in the same transaction
    [event] = n.outbox("notifications.delivery.sent")
    assert event["id"] == row["id"] and event["subject"] == first and event["subject_version"] == 1
    assert event["data"] == {
        "delivery_id": first,
        "channel": "email",
        "template": "invitation",
        "producer_id": jobs[0].producer_id,
        "cause_event_id": jobs[0].cause_event_id,
    }


def test_a_lost_claim_records_nothing(n):
    [delivery_id] = queued(n)
    [job] = claimed(n)
    taken = datetime.now(UTC) + timedelta(minutes=5)  # another sender took it once the claim ran out
    with n.rt.transaction() as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(claimed_until=taken))
    assert record(n, FanOutEmitter(n.rt.emit), job, queue.Sent("<ref@x>")) is None
    [row] = n.deliveries(id=delivery_id)
    assert (row.status, row.attempts, row.provider_ref) == ("sending", 0, None)
    assert n.outbox("notifications.delivery.sent") == []


def test_a_delivery_in_doubt_found_at_the_provider_is_not_counted_again(n):
    [delivery_id] = queued(n)
    [job] = claimed(n)
    doubted = dataclasses.replace(job, in_doubt=True, attempts=1)
    with n.rt.transaction() as s:  # as claim leaves an interrupted attempt: counted once
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(attempts=1))
    assert record(n, FanOutEmitter(n.rt.emit), doubted, queue.Sent("<ref@x>", found=True)) is not None
    [row] = n.deliveries(id=delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, queue.FOUND)
    assert n.outbox("notifications.delivery.sent")[0]["subject_version"] == 1


def test_a_webhook_following_sent_deliveries_gets_each_through_the_same_recording(n):
    [delivery_id] = queued(n)
    with n.rt.transaction() as s:
        s.add(
            WebhookSubscription(
                id="sub-1",
                url="https://hooks.example.vn/x",
                secret="s" * 32,
                owner="integration:x",
                event_types=["notifications.delivery.sent"],
                created_by="integration:x",
            )
        )
    [job] = claimed(n)
    emit = FanOutEmitter(n.rt.emit)
    with n.rt.transaction() as s:
        emit.snapshot(s)
        assert emit.follows(queue.SENT_EVENT)
        assert queue.record_outcome(s, emit, job, queue.Sent(None), n.settings) == "sent"
    [event] = n.outbox("notifications.delivery.sent")
    with n.rt.transaction() as s:
        [hook] = s.query(WebhookDelivery).all()
        assert (hook.subscription_id, hook.event_id, hook.event_type) == ("sub-1", event["id"], queue.SENT_EVENT)
    assert n.deliveries(id=delivery_id)[0].status == "sent"


def test_a_job_is_a_frozen_record_and_a_renewed_claim_a_new_one(n):
    queued(n, 2)
    jobs = claimed(n, lease=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        jobs[0].claimed_until = datetime.now(UTC)
    assert (jobs[0].recipient.name, jobs[0].recipient.email) == ("HTX Bưởi da xanh Chợ Lách", "htx.queue0@example.vn")
    with n.rt.engine.connect() as conn:
        renewed = queue.renew_claims(conn, jobs, 120)
    assert [j.id for j in renewed] == [j.id for j in jobs]
    assert all(r.claimed_until > j.claimed_until for r, j in zip(renewed, jobs, strict=True))
    assert {aware(d.claimed_until) for d in n.deliveries()} == {renewed[0].claimed_until}
    # the old claim no longer holds: recording under it writes nothing
    assert record(n, FanOutEmitter(n.rt.emit), jobs[0], queue.Sent(None)) is None
    assert record(n, FanOutEmitter(n.rt.emit), renewed[0], queue.Sent(None)) is not None


def test_the_senders_take_their_settings(notifier_factory):  # noqa: F811
    from services.notifications.worker import ChannelSender, Reminders, senders

    n = notifier_factory(
        send_batch=2, send_lease_seconds=7.5, email_connections=2, reminder_days="2", reminder_interval_seconds=5
    )
    queued(n, 3)
    sender = ChannelSender(n.rt, "email")
    assert (sender.batch, sender.lease) == (2, 7.5)
    with n.rt.transaction() as s:
        jobs, _ = queue.claim(s, "email", sender.batch, sender.lease, sender.adapters)
    assert len(jobs) == 2
    assert sum(1 for x in senders(n.rt) if x.channel == "email") == 2
    reminders = Reminders(n.rt)
    assert (reminders.interval, reminders.offsets) == (5, (2,))
    with pytest.raises(ValueError, match="OCOP_REMINDER_DAYS"):
        Reminders(notifier_factory(reminder_days="soon").rt)


def test_parked_deliveries_of_both_kinds_are_redriven_by_the_same_code(n):
    [delivery_id] = queued(n)
    with n.rt.transaction() as s:
        with pytest.raises(Conflict) as refused:
            redrive(s, Delivery, delivery_id)
        assert refused.value.field == "status"
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(status="parked", attempts=6))
        row = redrive(s, Delivery, delivery_id)
        assert (row.status, row.attempts) == ("queued", 0)
        with pytest.raises(NotFound) as missing:
            redrive(s, WebhookDelivery, delivery_id, "sub-1")
        assert missing.value.field == "delivery_id" and str(missing.value) == "no such webhook delivery"
