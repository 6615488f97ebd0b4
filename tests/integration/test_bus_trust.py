"""What a consumer believes, in both modes: a message that cannot be decoded (JSON nested 100,000
deep) is dead-lettered with its reason and the queue goes on; an event whose source does not fit
its type, or (RabbitMQ) that the broker does not vouch for, is dead-lettered as untrusted and
counted; an answer that claims a time before the deadline but arrives after it is refused.

The forged-sender and default-exchange cases with the per-service broker users of
deploy/rabbitmq/definitions.json are in tests/faults/test_broker_trust.py."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from events_support import by_producer, create_fair, events_of, known, publish, register
from kombu import Producer
from prometheus_client import REGISTRY
from support import wait_for

from shared.bus import admin
from shared.bus.connection import connect, is_amqp
from shared.bus.topology import EVENTS_EXCHANGE, queue_spec
from shared.bus.trust import connection_user
from shared.contracts import make_envelope

FEED = queue_spec("events.registry-feed")


def send(
    url: str,
    body: str,
    message_id: str,
    routing_key: str = "registry.product.registered",
    user_id: str | None = "vouched",
) -> None:
    """Publish to ocop.events as a client would; ``user_id`` "vouched": the connection's user (RabbitMQ)."""
    conn = connect(url)
    try:
        props = {"user_id": connection_user(url)} if user_id == "vouched" and is_amqp(url) else {}
        Producer(conn.channel()).publish(
            body,
            exchange=EVENTS_EXCHANGE,
            routing_key=routing_key,
            serializer=None,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message_id,
            type=routing_key,
            retry=False,
            **props,
        )
    finally:
        conn.release()


def product_event(source: str = "registry") -> dict:
    subject = str(uuid.uuid4())
    envelope = make_envelope(
        "registry.product.registered",
        1,
        "registry",
        subject,
        1,
        {
            "product_id": subject,
            "producer_id": str(uuid.uuid4()),
            "name": "Nước mắm Phú Quốc",
            "name_en": None,
            "group": 1,
            "potential_five_star": False,
        },
    )
    return {**envelope, "source": source}


def dead_lettered(url: str, message_id: str) -> dict | None:
    conn = connect(url)
    try:
        return next((m for m in admin.peek(conn, FEED.dlq, limit=5000) if m["message_id"] == message_id), None)
    finally:
        conn.release()


def in_read_model(platform, product_id: str) -> bool:
    from services.events.models import ProductView

    with platform.runtimes["events"].session_factory() as s:
        return s.get(ProductView, product_id) is not None


def untrusted() -> float:
    return REGISTRY.get_sample_value("ocop_messages_untrusted_total", {"queue": FEED.name}) or 0.0


def test_json_nested_too_deep_is_dead_lettered_and_the_queue_goes_on(platform):
    url = platform.runtimes["events"].settings.broker_url
    deep_id, after = f"deep-{uuid.uuid4()}", product_event()
    send(url, "[" * 100_000 + "]" * 100_000, deep_id)
    send(url, json.dumps(after), after["id"])
    wait_for(lambda: in_read_model(platform, after["subject"]), timeout=30, message="the event after it applied")
    dead = wait_for(lambda: dead_lettered(url, deep_id), timeout=30, message="the deep document in the DLQ")
    assert dead["reason"].startswith("body is not valid JSON: RecursionError"), dead["reason"]
    assert dead["headers"]["x-ocop-queue"] == FEED.name and dead["deliveries"] == 1


def test_an_event_whose_source_does_not_fit_its_type_is_dropped_and_counted(platform):
    url = platform.runtimes["events"].settings.broker_url
    before = untrusted()
    forged, after = product_event(source="events"), product_event()  # the events service "publishing" registry news
    send(url, json.dumps(forged), forged["id"])
    send(url, json.dumps(after), after["id"])
    wait_for(lambda: in_read_model(platform, after["subject"]), timeout=30, message="the event after it applied")
    dead = wait_for(lambda: dead_lettered(url, forged["id"]), timeout=30, message="the forged event in the DLQ")
    assert dead["reason"] == (
        "untrusted: source 'events' may not send registry.product.registered (only 'registry' does)"
    )
    assert not in_read_model(platform, forged["subject"])
    assert untrusted() >= before + 1


def test_an_event_under_another_routing_key_is_dropped(platform):
    url = platform.runtimes["events"].settings.broker_url
    forged = product_event()
    send(url, json.dumps(forged), forged["id"], routing_key="registry.certification.revoked")
    dead = wait_for(lambda: dead_lettered(url, forged["id"]), timeout=30, message="the misrouted event in the DLQ")
    assert "arrived with routing key 'registry.certification.revoked'" in dead["reason"]
    assert not in_read_model(platform, forged["subject"])


def test_on_rabbitmq_an_event_without_user_id_is_not_believed(platform):
    url = platform.runtimes["events"].settings.broker_url
    if not is_amqp(url):
        return  # the embedded broker has no users: the source check above is all there is
    before = untrusted()
    unvouched = product_event()
    send(url, json.dumps(unvouched), unvouched["id"], user_id=None)
    dead = wait_for(lambda: dead_lettered(url, unvouched["id"]), timeout=30, message="the unvouched event in the DLQ")
    assert dead["reason"].startswith("untrusted: no user_id"), dead["reason"]
    assert not in_read_model(platform, unvouched["subject"]) and untrusted() >= before + 1


def test_an_answer_backdated_before_the_deadline_but_received_after_it_is_refused(platform, api):
    from services.events.models import Invitation

    producer = register(api, "Điện Biên")
    known(api, [p["id"] for p in producer["products"]])
    fair = create_fair(api, "Điện Biên", capacity=2)
    publish(api, fair["id"])
    invitation = by_producer(api, fair["id"])[producer["id"]]
    deadline = datetime.now(UTC) - timedelta(hours=1)  # the deadline has passed (the sweep has not run)
    events = platform.runtimes["events"]
    with events.session_factory() as s, s.begin():
        s.get(Invitation, invitation["id"]).deadline = deadline
    # The notifications service relays an answer that claims to be from before the deadline.
    notifications = platform.runtimes["notifications"]
    with notifications.session_factory() as s, s.begin():
        notifications.emit(
            s,
            "notifications.invitation.answered",
            invitation["id"],
            1,
            {
                "invitation_id": invitation["id"],
                "producer_id": producer["id"],
                "answer": "accept",
                "note": None,
                "answered_at": deadline - timedelta(days=2),
            },
        )
    [refused] = wait_for(
        lambda: events_of(platform, "events.invitation.answer_refused", invitation["id"]),
        timeout=30,
        message="the answer refused",
    )
    assert refused["data"]["cause"] == "deadline_passed"
    assert by_producer(api, fair["id"])[producer["id"]]["status"] == "issued"
    assert not events_of(platform, "events.invitation.accepted", invitation["id"])


def test_a_vouched_integration_is_answered_even_for_a_command_it_garbled(platform):
    """The registry's replies as the consumer makes them (both modes; the broker's side of it,
    routing and permissions, is in tests/faults/test_broker_trust.py)."""
    from sqlalchemy import select

    from services.registry.consumers import handlers
    from services.registry.models import Outbox
    from shared.bus.consumer import IdempotentConsumer
    from shared.bus.trust import Trust

    rt = platform.runtimes["registry"]
    consumer = IdempotentConsumer(
        queue_spec("registry.commands"),
        rt.session_factory,
        rt.inbox,
        handlers(rt)["registry.commands"],
        rt.settings.broker_url,
        trust=Trust(check_users=True),
    )
    meta = {
        "user_id": "council-app",
        "exchange": "ocop.commands",
        "routing_key": "registry.record_certification",
        "deliveries": 1,
    }
    garbled = f"garbled-{uuid.uuid4()}"
    outcome = consumer.handle_raw(
        b'{"id": 1, "data": {"command_id": 7}}',
        "application/json",
        {"message_id": garbled, "type": "registry.record_certification"},
        meta,
    )
    consumer.close_side()
    assert outcome == "dead-lettered"
    with rt.session_factory() as s:
        [row] = s.execute(
            select(Outbox.exchange, Outbox.routing_key, Outbox.correlation_id, Outbox.payload).where(
                Outbox.correlation_id == garbled
            )
        ).all()
    assert (row.exchange, row.routing_key) == ("ocop.replies", "reply.council-app.registry.command.rejected")
    data = json.loads(row.payload)["data"]
    assert data["command_id"] == garbled and data["command_type"] == "registry.record_certification"
    assert data["errors"] == {
        "id": ["Not a valid UUID."],
        "type": ["Missing data for required field."],
        "version": ["Missing data for required field."],
        "occurred_at": ["Missing data for required field."],
        "source": ["Missing data for required field."],
        "subject": ["Missing data for required field."],
        "subject_version": ["Missing data for required field."],
        "correlation_id": ["Missing data for required field."],
    }
    # A service's (or an operator's) user is never answered: nothing to reply to.
    assert (
        consumer.handle_raw(
            b"[]", "application/json", {"message_id": f"svc-{garbled}"}, {**meta, "user_id": "registry"}
        )
        == "dead-lettered"
    )
    consumer.close_side()
    with rt.session_factory() as s:
        assert s.scalar(select(Outbox.id).where(Outbox.correlation_id == f"svc-{garbled}")) is None
