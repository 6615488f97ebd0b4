"""SMS through the HTTP gateway adapter, against a real HTTP receiver on 127.0.0.1.

The notifications service runs here on its own (``Notifier``): its app over real HTTP, its own
database (a SQLite file, or a fresh PostgreSQL database in the real mode), its consumer fed the
events a registry and an events service would publish (through the idempotent consumer's own
entry point, so the inbox and the handlers are the real ones), and its channel senders driven
one attempt at a time. That lets each test choose the channel settings (gateway URL, mode,
attempts) without disturbing the shared platform. The other notification tests import it.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from support import TEST_SECRET, TEST_TOKEN_KEY, TEST_TOKEN_PUBLIC_KEY, free_port, real_mode, reset_postgres, wait_for
from werkzeug.serving import make_server

from services.notifications import domain
from shared.contracts import contract_for, make_envelope, sample


def event(type_: str, subject: str, version: int, data: dict) -> dict:
    """An envelope as the service that owns ``type_`` would publish it (data given in wire form)."""
    return make_envelope(type_, 1, type_.split(".")[0], subject, version, contract_for(type_, 1).schema().load(data))


# ---- a real HTTP receiver --------------------------------------------------------------------------
class Receiver:
    """Records every POST (path, headers, raw body); answers from a script of statuses, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[int | tuple[int, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "body": body,  # header names: any case
                            "headers": requests.structures.CaseInsensitiveDict(self.headers),
                        }
                    )
                    step = receiver.script.pop(0) if receiver.script else 200
                status, headers = step if isinstance(step, tuple) else (step, {})
                answer = json.dumps(
                    {"message_id": f"gw-{len(receiver.requests)}"} if status < 300 else {"error": "gateway says no"}
                ).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def json(self, i: int) -> dict:
        return json.loads(self.requests[i]["body"])

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    r = Receiver()
    yield r
    r.stop()


# ---- the notifications service on its own -----------------------------------------------------------
class Notifier:
    def __init__(self, tmp_path, **settings):
        from services.notifications.app import create_app
        from shared.config import load
        from shared.web import _RUNTIMES, runtime_of

        self._previous_runtime = _RUNTIMES.get("notifications")
        if real_mode():
            name = f"ocop_notif_{os.environ.get('OCOP_TEST_TAG', '')}_{uuid.uuid4().hex[:8]}"
            self.db_name = name
            url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], [name])[name]
        else:
            self.db_name = None
            url = f"sqlite:///{tmp_path / 'notifications-alone.sqlite'}"
        base = load("notifications")
        defaults = {
            "database_url": url,
            "secret_key": TEST_SECRET,
            "token_public_key": TEST_TOKEN_PUBLIC_KEY,
            "retry_base_seconds": 0.02,
            "retry_max_seconds": 0.1,
            "http_timeout_seconds": 5.0,
        }
        self.port = free_port()
        defaults["public_base_url"] = f"http://127.0.0.1:{self.port}"
        self.settings = replace(base, **{**defaults, **settings})
        self.app = create_app(settings=self.settings, migrate=True)
        self.rt = runtime_of(self.app)
        self.url = self.settings.public_base_url
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.http = requests.Session()
        from services.notifications.consumers import handlers
        from shared.bus.consumer import IdempotentConsumer
        from shared.bus.topology import queue_spec

        self.consumer = IdempotentConsumer(
            queue_spec("notifications.main"),
            self.rt.session_factory,
            self.rt.inbox,
            handlers(self.rt)["notifications.main"],
            self.settings.broker_url,
            max_attempts=1,
        )

    # events in
    def deliver(self, envelope: dict) -> str:
        """Hand one message to the consumer as the broker would; returns its outcome."""
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        return self.consumer.handle_raw(
            body, "application/json", {"message_id": envelope["id"], "type": envelope["type"]}
        )

    def producer(
        self,
        *,
        email=None,
        phone=None,
        sms=True,
        mail=True,
        language="vi",
        name="HTX Bưởi da xanh Chợ Lách",
        version=1,
        producer_id=None,
    ) -> dict:
        data = sample("registry.producer.registered", 1)["data"]
        data.update(
            producer_id=producer_id or str(uuid.uuid4()),
            name=name,
            email=email,
            phone=phone,
            preferred_language=language,
            consent={"email": mail, "sms": sms},
        )
        env = event(
            "registry.producer.registered" if version == 1 else "registry.producer.updated",
            data["producer_id"],
            version,
            data,
        )
        assert self.deliver(env) == "handled"
        return data

    def invitation(self, producer_id: str, fair_name="Hội chợ Trái cây Đồng bằng sông Cửu Long") -> dict:
        data = sample("events.invitation.issued", 1)["data"]
        data["invitation_id"] = str(uuid.uuid4())
        data["producer_id"] = producer_id
        data["fair"] = {**data["fair"], "fair_id": str(uuid.uuid4()), "name": fair_name}
        data["deadline"] = (datetime.now(UTC) + timedelta(days=10)).isoformat()
        return event("events.invitation.issued", data["invitation_id"], 1, data)

    # sending
    def sender(self, channel: str):
        from services.notifications.worker import ChannelSender, WebhookSender

        if channel == "webhook":
            return WebhookSender(self.rt, limiter=domain.RateLimit(0))
        return ChannelSender(self.rt, channel, limiter=domain.RateLimit(0))

    def drain(self, channel: str, until, message="deliveries settled"):
        """Run the channel's sender (one attempt at a time) until ``until()`` is truthy."""
        sender = self.sender(channel)

        def step():
            sender.run_once()
            return until()

        try:
            return wait_for(step, timeout=30, interval=0.02, message=message)
        finally:
            getattr(sender.adapter, "close", lambda: None)()  # its kept-open SMTP connection

    # reading
    def deliveries(self, **where) -> list:
        from sqlalchemy import select

        from services.notifications.models import Delivery

        with self.rt.transaction() as s:
            q = select(Delivery).order_by(Delivery.created_at)
            for k, v in where.items():
                q = q.where(getattr(Delivery, k) == v)
            return list(s.scalars(q))

    def outbox(self, type_: str) -> list[dict]:
        from sqlalchemy import select

        with self.rt.transaction() as s:
            rows = s.scalars(select(self.rt.outbox).where(self.rt.outbox.type == type_).order_by(self.rt.outbox.seq))
            return [json.loads(r.payload) for r in rows]

    def call(self, method: str, path: str, role: str | None = None, sub: str | None = None, **kw):
        from shared.auth import issue_token

        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {issue_token(TEST_TOKEN_KEY, role, sub or f'test-{role}')}"
        return self.http.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def close(self):
        from shared.web import _RUNTIMES

        self.server.shutdown()
        self.rt.engine.dispose()
        if self._previous_runtime is not None:
            _RUNTIMES["notifications"] = self._previous_runtime
        if self.db_name:
            import psycopg

            base = os.environ["OCOP_TEST_PG_URL"].replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


@pytest.fixture
def notifier_factory(tmp_path):
    made = []

    def make(**settings) -> Notifier:
        n = Notifier(tmp_path / str(len(made)), **settings)
        made.append(n)
        return n

    (tmp_path / "0").mkdir()
    for i in range(1, 4):
        (tmp_path / str(i)).mkdir()
    yield make
    for n in made:
        n.close()


def sms_settings(gateway, **more) -> dict:
    return {
        "sms_gateway_url": gateway.url + "/send",
        "sms_gateway_token": "gw-secret-token",
        "sms_sender": "SCT-CANTHO",
        **more,
    }


# ---- the tests ------------------------------------------------------------------------------------
def test_sms_in_ucs2_keeps_vietnamese_and_the_link(notifier_factory, gateway):
    n = notifier_factory(**sms_settings(gateway))
    p = n.producer(phone="0912 345 678", email=None)
    inv = n.invitation(p["producer_id"])
    assert n.deliver(inv) == "handled"
    [row] = n.deliveries(cause_event_id=inv["id"])
    assert (row.channel, row.status, row.sms_encoding) == ("sms", "queued", "ucs2")
    n.drain("sms", lambda: n.deliveries(id=row.id)[0].status == "sent")

    assert len(gateway.requests) == 1
    req, sent = gateway.requests[0], gateway.json(0)
    assert req["path"] == "/send" and req["headers"]["Authorization"] == "Bearer gw-secret-token"
    assert req["headers"]["Idempotency-Key"] == row.id
    assert req["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert sent["from"] == "SCT-CANTHO" and sent["to"] == "+84912345678" and sent["reference"] == row.id
    assert sent["encoding"] == "ucs2" and "Hội chợ Trái cây Đồng bằng sông Cửu Long" in sent["text"]
    assert sent["text"].startswith("OCOP: mời tham gia") and "Trả lời trước" in sent["text"]
    segments, units = domain.count_segments(sent["text"], "ucs2")
    assert sent["segments"] == segments == row.sms_segments and units > 70 and segments == -(-units // 67)
    assert segments <= n.settings.sms_max_segments
    # the short link is the last word, whole, and leads to the signed answer page
    link = sent["text"].rsplit(" ", 1)[1]
    assert link.startswith(f"{n.url}/r/s/") and len(link) < len(n.url) + 20
    hop = n.http.get(link, allow_redirects=False, timeout=10)
    assert hop.status_code == 302 and "/r/" in hop.headers["Location"]
    page = n.http.get(link, timeout=10)
    assert page.status_code == 200 and "Hội chợ Trái cây Đồng bằng sông Cửu Long" in page.text
    assert n.http.get(f"{n.url}/r/s/nosuchcode00", timeout=10).status_code == 404
    done = n.deliveries(id=row.id)[0]
    assert done.attempts == 1 and done.provider_ref == "gw-1"
    assert [e["data"]["channel"] for e in n.outbox("notifications.delivery.sent")] == ["sms"]


def test_sms_unaccented_mode_sends_gsm7_and_more_fits(notifier_factory, gateway):
    n = notifier_factory(**sms_settings(gateway, sms_mode="unaccented"))
    p = n.producer(phone="+84 903 111 222", email=None)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    n.drain("sms", lambda: len(gateway.requests) == 1)
    sent = gateway.json(0)
    assert sent["encoding"] == "gsm7" and domain.is_gsm7(sent["text"])
    assert "Hoi cho Trai cay Dong bang song Cuu Long" in sent["text"] and "Tra loi truoc" in sent["text"]
    assert sent["segments"] == domain.count_segments(sent["text"], "gsm7")[0] <= 2
    assert f"{n.url}/r/s/" in sent["text"].rsplit(" ", 1)[1]


def test_gateway_that_fails_then_succeeds_sends_once(notifier_factory, gateway):
    n = notifier_factory(**sms_settings(gateway))
    gateway.script = [503, (429, {"Retry-After": "0"})]
    p = n.producer(phone="0987654321", email=None)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    [row] = n.deliveries(cause_event_id=inv["id"])
    n.drain("sms", lambda: n.deliveries(id=row.id)[0].status == "sent")
    done = n.deliveries(id=row.id)[0]
    assert done.attempts == 3 and done.last_error is None and done.provider_ref == "gw-3"
    assert len(gateway.requests) == 3 and len({r["headers"]["Idempotency-Key"] for r in gateway.requests}) == 1
    assert len(n.outbox("notifications.delivery.sent")) == 1 and not n.outbox("notifications.delivery.failed")


def test_gateway_refusal_parks_and_a_redrive_sends(notifier_factory, gateway):
    n = notifier_factory(**sms_settings(gateway))
    gateway.script = [400]
    p = n.producer(phone="0912000111", email=None)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    [row] = n.deliveries(cause_event_id=inv["id"])
    n.drain("sms", lambda: n.deliveries(id=row.id)[0].status == "parked")
    parked = n.deliveries(id=row.id)[0]
    assert parked.attempts == 1 and "HTTP 400" in parked.last_error  # refused for good: no retries
    [failed] = n.outbox("notifications.delivery.failed")
    assert failed["data"]["delivery_id"] == row.id and failed["data"]["channel"] == "sms"
    listed = n.call("GET", "/deliveries", "trade_officer", params={"status": "parked"}).json()
    assert [d["id"] for d in listed] == [row.id]
    assert n.call("POST", f"/deliveries/{row.id}/retry", "integration").status_code == 403
    r = n.call("POST", f"/deliveries/{row.id}/retry", "trade_officer")
    assert r.status_code == 200 and r.json()["status"] == "queued" and r.json()["attempts"] == 0
    assert n.call("POST", f"/deliveries/{row.id}/retry", "trade_officer").status_code == 409
    assert n.call("POST", "/deliveries/nope/retry", "trade_officer").status_code == 404
    n.drain("sms", lambda: n.deliveries(id=row.id)[0].status == "sent")
    assert len(gateway.requests) == 2


def test_retries_used_up_park_the_delivery(notifier_factory, gateway):
    n = notifier_factory(**sms_settings(gateway), channel_attempts={"email": 6, "sms": 3, "webhook": 8})
    gateway.script = [500, 502, 503, 200]
    p = n.producer(phone="0912000222", email=None)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    [row] = n.deliveries(cause_event_id=inv["id"])
    n.drain("sms", lambda: n.deliveries(id=row.id)[0].status == "parked")
    parked = n.deliveries(id=row.id)[0]
    assert parked.attempts == 3 and "HTTP 503" in parked.last_error and len(gateway.requests) == 3


def test_email_and_sms_each_get_one_row(notifier_factory, gateway):
    n = notifier_factory(**sms_settings(gateway), smtp_port=free_port())  # nobody listens: email waits
    p = n.producer(phone="0912000333", email="htx.buoi@example.vn")
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    rows = n.deliveries(cause_event_id=inv["id"])
    assert sorted(r.channel for r in rows) == ["email", "sms"]
    assert all(r.subject == "Thư mời tham gia Hội chợ Trái cây Đồng bằng sông Cửu Long" for r in rows)
    n.drain("sms", lambda: n.deliveries(channel="sms", cause_event_id=inv["id"])[0].status == "sent")
    assert len(gateway.requests) == 1
