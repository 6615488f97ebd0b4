"""Webhooks for integrating services: subscriptions per event type (REST), each message signed
with HMAC-SHA256 over timestamp and body and checked by a real HTTP receiver the way the README
tells integrators to, retried with backoff, then parked; a delivery log per subscription."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from test_notifications_sms import Receiver
from test_notifications_sms import notifier_factory as any_notifier  # noqa: F401 - fixture

from services.notifications.webhook_targets import TargetPolicy

# The receivers here listen on 127.0.0.1 over plain HTTP: a policy allowing that, as an operator of
# a closed network would set it (OCOP_WEBHOOK_ALLOW_HTTP=1, OCOP_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8).
LOCAL = TargetPolicy.parse(allow_http="1", networks="127.0.0.0/8")


@pytest.fixture
def notifier_factory(any_notifier):  # noqa: F811
    def make(**settings):
        return any_notifier(**{"extra": {"webhook_policy": LOCAL}, **settings})

    return make


@pytest.fixture
def hooks():
    made = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.stop()


def verified(request: dict, secret: str) -> dict:
    """What the README's verification example does: a fresh timestamp and a matching signature."""
    timestamp = request["headers"]["X-OCOP-Timestamp"]
    assert abs(time.time() - int(timestamp)) <= 300
    expected = (
        "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    )
    assert hmac.compare_digest(expected, request["headers"]["X-OCOP-Signature"])
    return json.loads(request["body"])


def subscribe(n, url, types, role="integration", **more):
    r = n.call("POST", "/webhooks", role, json={"url": url, "event_types": types, **more})
    assert r.status_code == 201, r.text
    return r.json()


def test_subscriptions_crud_and_bad_input(notifier_factory, hooks):  # noqa: F811
    n = notifier_factory()
    receiver = hooks()
    types = n.call("GET", "/webhooks/event-types", "integration").json()["event_types"]
    assert {
        "events.invitation.issued",
        "events.fair.published",
        "notifications.delivery.sent",
        "notifications.producer.unreachable",
    } <= set(types)
    assert "registry.certification.granted" not in types  # not routed to this service

    sub = subscribe(n, receiver.url + "/hook", ["events.invitation.issued"], description="Cổng thông tin tỉnh")
    assert len(sub["secret"]) >= 32 and sub["active"] and sub["owner"].startswith("integration:")
    listed = n.call("GET", "/webhooks", "admin").json()
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    one = n.call("GET", f"/webhooks/{sub['id']}", "integration").json()
    assert one["description"] == "Cổng thông tin tỉnh" and "secret" not in one

    r = n.call(
        "PATCH",
        f"/webhooks/{sub['id']}",
        "integration",
        json={"event_types": ["events.invitation.issued", "notifications.delivery.sent"], "rotate_secret": True},
    )
    assert r.status_code == 200 and r.json()["secret"] != sub["secret"]
    assert r.json()["event_types"] == ["events.invitation.issued", "notifications.delivery.sent"]
    r = n.call("PATCH", f"/webhooks/{sub['id']}", "integration", json={"active": False})
    assert r.status_code == 200 and "secret" not in r.json() and r.json()["active"] is False

    bad = n.call("POST", "/webhooks", "integration", json={"url": "ftp://example.vn/x", "event_types": []})
    assert bad.status_code == 422 and set(bad.json()["errors"]["json"]) == {"url", "event_types"}
    bad = n.call("POST", "/webhooks", "integration", json={"url": receiver.url, "event_types": ["registry.nope"]})
    assert bad.status_code == 422 and "registry.nope" in bad.json()["errors"]["json"]["event_types"][0]
    bad = n.call(
        "POST",
        "/webhooks",
        "integration",
        json={"url": receiver.url, "event_types": ["events.fair.published"], "secret": "short"},
    )
    assert bad.status_code == 422 and "secret" in bad.json()["errors"]["json"]
    assert len(n.call("GET", "/webhooks", "integration").json()) == 1  # nothing half written
    assert n.call("GET", "/webhooks", "producer", sub="p-1").status_code == 403
    assert n.call("POST", "/webhooks", "registry_officer", json={}).status_code == 403
    assert n.call("GET", "/webhooks").status_code == 401
    assert n.call("GET", "/webhooks/nope", "integration").status_code == 404
    assert n.call("GET", "/webhooks/nope/deliveries", "integration").status_code == 404

    assert n.call("DELETE", f"/webhooks/{sub['id']}", "admin").status_code == 204
    assert n.call("GET", f"/webhooks/{sub['id']}", "integration").status_code == 404
    assert n.call("GET", "/webhooks", "integration").json() == []


def test_signed_deliveries_of_received_and_own_events(notifier_factory, hooks):  # noqa: F811
    n = notifier_factory()
    receiver = hooks()
    sub = subscribe(n, receiver.url + "/ocop", ["events.invitation.issued", "notifications.producer.unreachable"])
    other = subscribe(n, receiver.url + "/other", ["events.fair.published"])
    p = n.producer(email=None, phone=None)  # no usable channel: the service says so in its own event
    inv = n.invitation(p["producer_id"], fair_name="Hội chợ Nông sản Bến Tre – Vĩnh Long")
    assert n.deliver(inv) == "handled"
    assert n.deliver(inv) == "duplicate"  # delivered twice by the broker: still one webhook delivery

    sender = n.sender("webhook")
    from support import wait_for

    wait_for(lambda: sender.run_once() == 0 and len(receiver.requests) == 2, message="two webhook posts")
    assert {r["path"] for r in receiver.requests} == {"/ocop"}
    bodies = {b["type"]: b for b in (verified(r, sub["secret"]) for r in receiver.requests)}
    issued, unreachable = bodies["events.invitation.issued"], bodies["notifications.producer.unreachable"]
    assert issued["id"] == inv["id"] and issued["data"]["fair"]["name"] == "Hội chợ Nông sản Bến Tre – Vĩnh Long"
    assert unreachable["data"]["producer_id"] == p["producer_id"] and unreachable["causation_id"] == inv["id"]
    for r in receiver.requests:
        assert r["headers"]["X-OCOP-Event-Type"] == json.loads(r["body"])["type"]
        assert r["headers"]["X-OCOP-Event-Id"] == json.loads(r["body"])["id"]
        with pytest.raises(AssertionError):
            verified(r, other["secret"])  # another subscription's secret does not verify it

    log = n.call("GET", f"/webhooks/{sub['id']}/deliveries", "integration").json()
    assert sorted(d["event_type"] for d in log) == ["events.invitation.issued", "notifications.producer.unreachable"]
    assert all(d["status"] == "sent" and d["attempts"] == 1 and d["response_status"] == 200 for d in log)
    assert n.call("GET", f"/webhooks/{other['id']}/deliveries", "integration").json() == []


def test_failing_receiver_is_retried_with_backoff_then_parked(notifier_factory, hooks):  # noqa: F811
    n = notifier_factory(channel_attempts={"email": 6, "sms": 5, "webhook": 3})
    flaky, down = hooks(), hooks()
    flaky.script = [500, 503]
    down.script = [500, 500, 500]
    a = subscribe(n, flaky.url, ["events.invitation.issued"])
    b = subscribe(n, down.url, ["events.invitation.issued"])
    p = n.producer(email=None, phone=None)
    n.deliver(n.invitation(p["producer_id"]))
    sender = n.sender("webhook")
    from support import wait_for

    def settled():
        sender.run_once()
        logs = [n.call("GET", f"/webhooks/{s['id']}/deliveries", "integration").json()[0] for s in (a, b)]
        return logs if logs[0]["status"] == "sent" and logs[1]["status"] == "parked" else None

    ok, parked = wait_for(settled, message="one sent after retries, one parked")
    assert ok["attempts"] == 3 and ok["last_error"] is None and len(flaky.requests) == 3
    assert parked["attempts"] == 3 and parked["response_status"] == 500 and "HTTP 500" in parked["last_error"]
    assert len(down.requests) == 3
    # the same event was signed anew on each attempt, with the same delivery id
    assert len({r["headers"]["X-OCOP-Delivery"] for r in flaky.requests}) == 1
    listed = n.call("GET", f"/webhooks/{b['id']}/deliveries", "integration", params={"status": "parked"}).json()
    assert [d["id"] for d in listed] == [parked["id"]]
    assert n.call("GET", f"/webhooks/{b['id']}/deliveries", "integration", params={"status": "x"}).status_code == 422

    r = n.call("POST", f"/webhooks/{b['id']}/deliveries/{parked['id']}/retry", "integration")
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert n.call("POST", f"/webhooks/{a['id']}/deliveries/{parked['id']}/retry", "integration").status_code == 404
    wait_for(
        lambda: sender.run_once() == 0
        and n.call("GET", f"/webhooks/{b['id']}/deliveries", "integration").json()[0]["status"] == "sent",
        message="re-driven delivery sent",
    )
    assert len(down.requests) == 4
    assert n.call("POST", f"/webhooks/{b['id']}/deliveries/{parked['id']}/retry", "integration").status_code == 409


def test_inactive_subscription_gets_nothing(notifier_factory, hooks):  # noqa: F811
    n = notifier_factory()
    receiver = hooks()
    sub = subscribe(n, receiver.url, ["events.invitation.issued"], active=False)
    p = n.producer(email=None, phone=None)
    n.deliver(n.invitation(p["producer_id"]))
    assert n.sender("webhook").run_once() == 0
    assert n.call("GET", f"/webhooks/{sub['id']}/deliveries", "integration").json() == [] and not receiver.requests
