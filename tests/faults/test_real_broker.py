"""Faults of the real deployment: RabbitMQ restarted, workers killed, duplicates, poison messages.

The platform runs as processes (gunicorn + worker per service, see tests/e2e/deployment.py) on
RabbitMQ and PostgreSQL, on a private vhost. A second AMQP client (pika) publishes and reads
messages directly, as an outside system would, to test the contracts at the wire.

Email and kill -9: the sender commits each delivery right after its SMTP transaction. A kill
while a transaction is open, before the server accepted the message, must not lose or repeat
anything (asserted here, the kill is placed there by holding the SMTP session). A kill after
the server accepted but before the commit resends that one message, with the same Message-ID:
tests/faults/test_kill_embedded.py pins that window down.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from e2e.deployment import (
    Deployment,
    Processes,
    SmtpServer,
    pg_value,
    pika_channel,
    pika_publish,
    process_env,
    queue_counts,
    rabbitmqctl,
    real_env,
    wait_emails,
)
from support import SERVICES, wait_for

pytestmark = [pytest.mark.real_only]

FEED = "events.registry-feed"


@pytest.fixture(scope="module")
def platform(tmp_path_factory, vhost_url):
    """The whole deployment, shared by this module's tests: each one asserts on its own ids only, and
    its fair admits only its own province, so the tests do not see each other's producers."""
    tmp = tmp_path_factory.mktemp("faults-real")
    procs = Processes(tmp / "logs")
    env = process_env(real_env(tmp, "faultreal", vhost_url))
    # A killed sender's claimed deliveries are retaken once its claim runs out (120 s by default,
    # renewed while the sender lives; README "Delivery guarantees"): a short claim here, so the
    # restart test does not wait 2 minutes.
    env["OCOP_SEND_LEASE_SECONDS"] = "15"
    smtp = SmtpServer(int(env["SMTP_PORT"])).start()
    try:
        dep = Deployment(procs, env).start()
        dep.smtp = smtp
        yield dep
    finally:
        procs.kill_all()
        smtp.stop()
        print(procs.report())


def in_read_model(dep: Deployment, product_ids: list[str]) -> int:
    return pg_value(
        dep.env, "events", "SELECT count(*) FROM certified_products WHERE product_id = ANY(%s)", product_ids
    )


def assert_each_emailed_once(dep: Deployment, emails: list[str], producer_ids: list[str]) -> None:
    wait_emails(dep.smtp, emails, timeout=90, procs=dep.procs)
    rows = wait_sent(dep, producer_ids)
    counts = dep.smtp.by_recipient()  # final: every delivery is committed as sent, none can be resent
    assert {e: counts[e] for e in emails} == {e: 1 for e in emails}
    assert len(rows) == len(producer_ids)


def wait_sent(dep: Deployment, producer_ids: list[str]) -> list[dict]:
    """The producers' deliveries once every one is committed as sent (from then on none can be resent)."""
    wanted = set(producer_ids)

    def mine_sent():
        rows = [d for d in dep.client.deliveries() if d["producer_id"] in wanted]
        return rows if len(rows) >= len(wanted) and all(d["status"] == "sent" for d in rows) else None

    return wait_for(mine_sent, timeout=60, interval=0.2, message="every delivery sent")


def assert_queues_clean(dep: Deployment) -> None:
    for queue in (f"{FEED}.dlq", f"{FEED}.parking", "notifications.main.dlq", "notifications.main.parking"):
        assert queue_counts(dep.broker_url, queue)[0] == 0, queue


# ---- (a) RabbitMQ stops and starts while events flow -----------------------------------------------------
@pytest.mark.slow
def test_broker_restart_while_events_flow(platform):
    dep, api = platform, platform.client
    posted: list[dict] = []
    errors: list[BaseException] = []
    broker_down, broker_back = threading.Event(), threading.Event()

    def post_40():
        try:
            for i in range(40):
                if i == 15:
                    broker_down.wait(60)  # 16..30 are committed while RabbitMQ is stopped
                if i == 30:
                    broker_back.wait(120)  # 31..40 while the workers reconnect
                posted.append(api.register_certified())
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    poster = threading.Thread(target=post_40, daemon=True)
    poster.start()
    wait_for(lambda: len(posted) >= 12 or errors, timeout=60, message="first producers posted")
    try:
        rabbitmqctl("stop_app")  # producers 13..15 are posted while it stops
        broker_down.set()
        wait_for(lambda: len(posted) >= 30 or errors, timeout=60, message="producers posted while broker down")
        assert not errors, errors
    finally:
        broker_down.set()
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        broker_back.set()
    poster.join(timeout=120)
    assert not errors and len(posted) == 40, errors

    for svc in SERVICES:  # the APIs' lazily made broker connections recover too
        dep.wait_api(svc, timeout=60)
    products = [p["products"][0]["id"] for p in posted]
    wait_for(
        lambda: not api.missing_from_read_model(products),
        timeout=120,
        interval=0.5,
        message="all 40 products in the read model",
    )
    assert in_read_model(dep, products) == 40
    # every certification event the registry published was applied once (only this test uses the registry)
    published = pg_value(
        dep.env, "registry", "SELECT array_agg(id) FROM outbox WHERE type = %s", "registry.certification.granted"
    )
    assert len(published) == 40
    assert (
        pg_value(
            dep.env, "events", "SELECT count(*) FROM inbox WHERE consumer = %s AND event_id = ANY(%s)", FEED, published
        )
        == 40
    )
    producer_ids = [p["producer"]["id"] for p in posted]
    # notifications consumes the same events on its own queue, at its own pace after the restart
    wait_for(
        lambda: pg_value(
            dep.env, "notifications", "SELECT count(*) FROM recipients WHERE producer_id = ANY(%s)", producer_ids
        )
        == 40,
        timeout=120,
        interval=0.5,
        message="all 40 recipients",
    )

    fair = api.create_fair(capacity=40, min_stars=4, provinces=["Vĩnh Long"])
    issued = [i for i in api.publish(fair["id"]) if i["status"] == "issued"]
    assert len(issued) == 40
    assert_each_emailed_once(dep, [p["email"] for p in posted], producer_ids)
    assert_queues_clean(dep)


# ---- messages as another client publishes them ---------------------------------------------------------------
def envelope(type_: str, subject: str, data: dict, subject_version: int = 1, source: str = "registry") -> dict:
    event_id = str(uuid.uuid4())
    return {
        "id": event_id,
        "type": type_,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": source,
        "subject": subject,
        "subject_version": subject_version,
        "correlation_id": event_id,
        "causation_id": None,
        "data": data,
    }


def producer_registered(email: str) -> dict:
    from shared.contracts import sample

    producer_id = str(uuid.uuid4())
    data = {
        **sample("registry.producer.registered", 1)["data"],
        "producer_id": producer_id,
        "email": email,
        "code": f"VL-{uuid.uuid4().hex[:6]}",
    }
    return envelope("registry.producer.registered", producer_id, data)


def certification_granted(subject_version: int = 2, producer_id: str | None = None, **data) -> dict:
    from shared.contracts import sample

    product_id = str(uuid.uuid4())
    data = {
        **sample("registry.certification.granted", 1)["data"],
        "product_id": product_id,
        "producer_id": producer_id or str(uuid.uuid4()),
        "certification_id": str(uuid.uuid4()),
        "province": "An Giang",
        **data,
    }
    return envelope("registry.certification.granted", product_id, data, subject_version)


def invitation_issued(producer_id: str) -> dict:
    from shared.contracts import sample

    invitation_id = str(uuid.uuid4())
    data = {
        **sample("events.invitation.issued", 1)["data"],
        "invitation_id": invitation_id,
        "producer_id": producer_id,
        "deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
    }
    return envelope("events.invitation.issued", invitation_id, data, source="events")


def publish(url: str, *messages: dict | tuple) -> None:
    """Publish with confirms; a message is an envelope, or (routing key, body, content type, message id, type)."""
    pika_publish(
        url,
        [
            m
            if isinstance(m, tuple)
            else (m["type"], json.dumps(m, ensure_ascii=False).encode(), "application/json", m["id"], m["type"])
            for m in messages
        ],
    )


# ---- (b) workers killed in the middle of a batch (its events come straight from pika) -----------------------
@pytest.mark.slow
def test_workers_killed_mid_batch(platform):
    dep, url, api, smtp = platform, platform.broker_url, platform.client, platform.smtp
    dep.procs.kill("events-worker")  # the batch waits in the queue until the worker starts again
    emails = [f"kill-{uuid.uuid4().hex[:10]}@example.vn" for _ in range(40)]
    producers = [producer_registered(e) for e in emails]
    # 200 certifications, 5 per producer, in a province no other test uses
    certs = [
        certification_granted(producer_id=p["subject"], province="Cần Thơ", producer_name=p["data"]["name"])
        for p in producers
        for _ in range(5)
    ]
    products, cert_ids = [c["subject"] for c in certs], [c["id"] for c in certs]
    publish(url, *producers, *certs)
    wait_for(lambda: queue_counts(url, FEED)[0] >= 240, timeout=30, interval=0.1, message="batch queued")

    def applied() -> int:
        return in_read_model(dep, products)

    dep.start_worker("events")
    wait_for(lambda: applied() >= 50, timeout=60, interval=0.02, message="events worker under way")
    dep.procs.kill("events-worker")
    at_kill = applied()
    print(f"events worker killed with {at_kill} of 200 certifications applied")
    assert at_kill < 200, "the kill came too late to test anything"

    dep.start_worker("events")
    wait_for(lambda: applied() == 200, timeout=90, interval=0.2, message="all 200 in the read model")
    assert (
        pg_value(
            dep.env, "events", "SELECT count(*) FROM inbox WHERE consumer = %s AND event_id = ANY(%s)", FEED, cert_ids
        )
        == 200
    )  # each applied once, whatever was delivered twice
    wait_for(lambda: queue_counts(url, FEED)[0] == 0, timeout=30, message="feed drained")
    assert api.call("GET", "events", f"/catalogue/{products[0]}", "trade_officer").json()["province"] == "Cần Thơ"

    # the notifications worker killed while it sends: the 11th email's SMTP session is held open
    # (not accepted) until the process is dead
    before = smtp.count()
    smtp.hold_data(after=before + 10)
    fair = api.create_fair(capacity=40, min_stars=4, provinces=["Cần Thơ"])
    issued = [i for i in api.publish(fair["id"]) if i["status"] == "issued"]
    assert len(issued) == 40 and {i["producer_id"] for i in issued} == {p["subject"] for p in producers}
    wait_for(smtp.held.is_set, timeout=60, message="11th email in flight")
    dep.procs.kill("notifications-worker")
    smtp.release()
    assert smtp.count() == before + 10
    dep.start_worker("notifications")
    dep.wait_consuming("notifications")
    assert_each_emailed_once(dep, emails, [p["subject"] for p in producers])
    assert_queues_clean(dep)


def test_same_event_delivered_twice_has_one_effect(platform):
    dep, url = platform, platform.broker_url
    cert, sentinel = certification_granted(subject_version=3), certification_granted()
    publish(url, cert, cert, sentinel)  # same id twice; the sentinel comes after both copies
    wait_for(
        lambda: pg_value(
            dep.env, "events", "SELECT count(*) FROM certified_products WHERE product_id = %s", sentinel["subject"]
        ),
        timeout=30,
        message="sentinel applied",
    )
    assert (
        pg_value(
            dep.env, "events", "SELECT source_version FROM certified_products WHERE product_id = %s", cert["subject"]
        )
        == 3
    )
    assert pg_value(dep.env, "events", "SELECT count(*) FROM inbox WHERE event_id = %s", cert["id"]) == 1

    a, b = f"dup-{uuid.uuid4().hex[:8]}@example.vn", f"dup-{uuid.uuid4().hex[:8]}@example.vn"
    pa, pb = producer_registered(a), producer_registered(b)
    inv = invitation_issued(pa["subject"])
    publish(url, pa, pb, inv, inv, invitation_issued(pb["subject"]))
    wait_emails(dep.smtp, [a, b], procs=dep.procs)
    # b's invitation came after both copies of a's: once b has its delivery, both copies were handled
    wait_sent(dep, [pa["subject"], pb["subject"]])
    assert dep.smtp.by_recipient()[a] == 1 and dep.smtp.by_recipient()[b] == 1
    assert (
        pg_value(dep.env, "notifications", "SELECT count(*) FROM deliveries WHERE cause_event_id = %s", inv["id"]) == 1
    )
    assert pg_value(dep.env, "notifications", "SELECT count(*) FROM inbox WHERE event_id = %s", inv["id"]) == 1
    [msg] = dep.smtp.to(a)
    assert "Hội chợ OCOP và đặc sản vùng miền" in str(msg["Subject"])


def test_malformed_messages_are_dead_lettered_with_reason(platform):
    dep, url = platform, platform.broker_url
    ok_before, ok_after = certification_granted(), certification_granted()
    bad_envelope = {"id": "not-a-uuid", "type": "registry.certification.granted", "data": {}}
    unknown = envelope("registry.product.retired", str(uuid.uuid4()), {"product_id": "x"})
    poison = [
        ("registry.certification.granted", b"{not json", "application/json", "m-notjson", None),
        (
            "registry.certification.granted",
            json.dumps(bad_envelope).encode(),
            "application/json",
            "m-badenv",
            "registry.certification.granted",
        ),
        (
            "registry.product.retired",
            json.dumps(unknown).encode(),
            "application/json",
            unknown["id"],
            "registry.product.retired",
        ),
        ("registry.certification.granted", b"certified: yes", "text/plain", "m-text", None),
    ]
    publish(url, ok_before, *poison, ok_after)
    wait_for(
        lambda: pg_value(
            dep.env, "events", "SELECT count(*) FROM certified_products WHERE product_id = %s", ok_after["subject"]
        ),
        timeout=30,
        message="valid message after the poison applied",
    )
    assert (
        pg_value(
            dep.env, "events", "SELECT count(*) FROM certified_products WHERE product_id = %s", ok_before["subject"]
        )
        == 1
    )

    dead = drain(url, f"{FEED}.dlq")
    reasons = {m["message_id"]: m for m in dead}
    assert set(reasons) == {"m-notjson", "m-badenv", unknown["id"], "m-text"}, dead
    assert reasons["m-notjson"]["reason"].startswith("body is not valid JSON")
    assert reasons["m-notjson"]["body"] == b"{not json"
    assert reasons["m-badenv"]["reason"] == "invalid envelope"
    assert "id" in json.loads(reasons["m-badenv"]["headers"]["x-ocop-details"])
    assert reasons[unknown["id"]]["reason"] == "unknown message type registry.product.retired v1"
    assert reasons["m-text"]["reason"] == "content type 'text/plain' is not application/json"
    assert all(m["headers"]["x-ocop-queue"] == FEED and m["headers"]["x-ocop-failed-at"] for m in dead)
    # the poison went to the consumer's own dead-letter queue only
    for queue in (f"{FEED}.parking", "notifications.main.dlq", "notifications.main.parking"):
        assert queue_counts(url, queue)[0] == 0, queue
    assert pg_value(dep.env, "events", "SELECT count(*) FROM inbox WHERE event_id = %s", unknown["id"]) == 0


def drain(url: str, queue: str) -> list[dict]:
    conn, ch = pika_channel(url)
    out = []
    try:
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            headers = props.headers or {}
            out.append(
                {
                    "message_id": props.message_id or headers.get("message_id"),
                    "headers": headers,
                    "reason": headers.get("x-ocop-reason"),
                    "body": body,
                }
            )
    finally:
        conn.close()
