"""Webhooks cannot be turned against the platform's own network (SSRF) or against another
integration: targets outside the policy are refused when a subscription is made or changed and
again at delivery, after DNS resolution (rebinding), redirects are not followed, the delivery log
keeps our own reason and never the receiver's answer, and each subscription is its owner's alone
(admins see all). Real HTTP receivers on 127.0.0.1, a resolver of the test's own for names."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from support import free_port, wait_for
from test_notifications_sms import notifier_factory as any_notifier  # noqa: F401 - fixture

from services.notifications.channels import ChannelError, WebhookChannel
from services.notifications.webhook_targets import TargetPolicy

LOCAL = TargetPolicy.parse(allow_http="1", networks="127.0.0.0/8")  # what the receivers here need
PUBLIC_HTTP = TargetPolicy.parse(allow_http="1", ports="any")  # public addresses only, plain HTTP for the test
SENTINEL = "INTERNAL-ANSWER-4711: root:x:0:0"  # what an internal service might answer


class Answering:
    """An HTTP receiver answering from a script of (status, headers, body); then 200. ``hold``:
    answer nothing until the test ends (a receiver that times out)."""

    def __init__(self, script=(), hold: bool = False, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.script = list(script)
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "host": self.headers.get("Host")})
                if hold:
                    receiver.release.wait(30)
                status, headers, body = receiver.script.pop(0) if receiver.script else (200, {}, b"ok")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(*script, **kw) -> Answering:
        made.append(Answering(script, **kw))
        return made[-1]

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def notifier(any_notifier):  # noqa: F811
    def make(policy=LOCAL, **settings):
        return any_notifier(**{"extra": {"webhook_policy": policy}, **settings})

    return make


@pytest.fixture
def names(monkeypatch):
    """Host names of the test's own: ``names["hooks.example.vn"] = ["93.184.216.34"]``; other names
    resolve as usual. ``names.asked`` counts the lookups of each."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}
    asked: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            asked[host] = asked.get(host, 0) + 1
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    table_ns = SimpleNamespace(table=table, asked=asked)
    return table_ns


def integration(sub: str) -> dict:
    return {"role": "integration", "sub": sub}


def subscribe(n, url, who=None, types=("events.invitation.issued",)):
    who = who or integration("portal-a")
    return n.call("POST", "/webhooks", who["role"], sub=who["sub"], json={"url": url, "event_types": list(types)})


def one_event(n) -> None:
    p = n.producer(email=None, phone=None)
    assert n.deliver(n.invitation(p["producer_id"])) == "handled"


def log_of(n, sub_id, who=None) -> list[dict]:
    who = who or integration("portal-a")
    r = n.call("GET", f"/webhooks/{sub_id}/deliveries", who["role"], sub=who["sub"])
    assert r.status_code == 200, r.text
    return r.json()


def settle(n, sub_id, status="parked") -> dict:
    sender = n.sender("webhook")

    def done():
        sender.run_once()
        log = log_of(n, sub_id)
        return log[0] if log and log[0]["status"] == status else None

    return wait_for(done, timeout=30, message=f"the delivery {status}")


# ---- at creation and change -------------------------------------------------------------------------
REFUSED = [
    ("https://127.0.0.1/hook", "loopback address"),
    ("https://10.0.0.7/hook", "private address"),
    ("https://192.168.1.20/hook", "private address"),
    ("https://169.254.169.254/latest/meta-data/", "link-local address"),
    ("https://100.64.1.1/hook", "shared (CGNAT) address"),
    ("https://[::1]/hook", "loopback address"),
    ("https://[fd00::5]/hook", "unique-local address"),
    ("https://[::ffff:7f00:1]/hook", "loopback address"),  # 127.0.0.1, IPv4-mapped
    ("https://[::ffff:a00:7]/hook", "private address"),  # 10.0.0.7, IPv4-mapped
    ("https://localhost/hook", "localhost names"),
    ("https://intranet.example.vn/hook", "the host name resolves to a private address"),
    ("https://twofaced.example.vn/hook", "the host name resolves to a loopback address"),
    ("http://93.184.216.34/hook", "only https"),
    ("https://user:pw@93.184.216.34/hook", "credentials"),
    ("https://93.184.216.34:8080/hook", "port 8080"),
]


def test_targets_outside_the_policy_are_refused_when_made_or_changed(notifier, names):
    names.table.update(
        {
            "intranet.example.vn": ["10.20.0.5"],
            "twofaced.example.vn": ["93.184.216.34", "127.0.0.1"],
            "hooks.example.vn": ["93.184.216.34"],
        }
    )
    n = notifier(TargetPolicy())  # the default policy
    for url, reason in REFUSED:
        r = subscribe(n, url)
        assert r.status_code == 422, (url, r.text)
        [message] = r.json()["errors"]["json"]["url"]
        assert message.startswith("not an allowed webhook target") and reason in message, (url, message)
        assert "10.20.0.5" not in message  # what kind of address, never which
    admin = n.call("GET", "/webhooks", "admin", sub="ops")
    assert admin.json() == []  # nothing written

    ok = subscribe(n, "https://hooks.example.vn/ocop")
    assert ok.status_code == 201, ok.text
    sub_id = ok.json()["id"]
    for url, reason in REFUSED:
        r = n.call("PATCH", f"/webhooks/{sub_id}", "integration", sub="portal-a", json={"url": url})
        assert r.status_code == 422 and reason in r.json()["errors"]["json"]["url"][0], (url, r.text)
    assert (
        n.call("GET", f"/webhooks/{sub_id}", "integration", sub="portal-a").json()["url"]
        == "https://hooks.example.vn/ocop"
    )


# ---- at delivery ----------------------------------------------------------------------------------
def test_a_policy_tightened_after_subscribing_holds_at_delivery(notifier, receivers):
    n = notifier(LOCAL)
    receiver = receivers()
    r = subscribe(n, receiver.url + "/in")
    assert r.status_code == 201, r.text
    n.settings.extra["webhook_policy"] = PUBLIC_HTTP  # the operator drops 127.0.0.0/8
    one_event(n)
    parked = settle(n, r.json()["id"])
    assert parked["last_error"] == "refused by policy: loopback address" and parked["response_status"] is None
    assert parked["attempts"] == 1 and receiver.requests == []  # parked at once: retrying cannot help


def test_a_name_that_rebinds_to_loopback_is_refused_at_delivery(notifier, receivers, names):
    n = notifier(PUBLIC_HTTP)
    receiver = receivers()
    names.table["hooks.example.vn"] = ["93.184.216.34"]  # public when the subscription is made ...
    r = subscribe(n, f"http://hooks.example.vn:{receiver.port}/in")
    assert r.status_code == 201, r.text
    names.table["hooks.example.vn"] = ["127.0.0.1"]  # ... the receiver's machine when it is used
    one_event(n)
    parked = settle(n, r.json()["id"])
    assert parked["last_error"] == "refused by policy: the host name resolves to a loopback address"
    assert receiver.requests == []


def test_the_connection_goes_to_the_address_checked_under_the_name(notifier, receivers, names):
    """One lookup per attempt, checked, then connected to: nothing resolves the name a second time
    (where a rebinding answer could slip in), and the receiver still sees the name."""
    n = notifier(LOCAL)
    receiver = receivers()
    names.table["hooks.example.vn"] = ["127.0.0.1"]
    r = subscribe(n, f"http://hooks.example.vn:{receiver.port}/in?k=1")
    assert r.status_code == 201, r.text
    assert names.asked["hooks.example.vn"] == 1  # checked when made
    one_event(n)
    sent = settle(n, r.json()["id"], "sent")
    assert sent["response_status"] == 200 and names.asked["hooks.example.vn"] == 2
    assert receiver.requests == [{"path": "/in?k=1", "host": f"hooks.example.vn:{receiver.port}"}]


def test_redirects_are_not_followed(notifier, receivers):
    n = notifier(LOCAL)
    inner = receivers()
    mover = receivers((302, {"Location": inner.url + "/internal"}, b""))
    r = subscribe(n, mover.url + "/in")
    one_event(n)
    parked = settle(n, r.json()["id"])
    assert parked["response_status"] == 302 and parked["attempts"] == 1
    assert parked["last_error"] == "HTTP 302 Found (redirects are not followed)"
    assert len(mover.requests) == 1 and inner.requests == []


def test_the_delivery_log_never_shows_the_receivers_answer(notifier, receivers):
    n = notifier(LOCAL, channel_attempts={"email": 6, "sms": 5, "webhook": 2}, http_timeout_seconds=0.5)
    talkative = receivers(
        (500, {"Content-Type": "text/plain"}, SENTINEL.encode()),
        (403, {"Content-Type": "text/plain"}, SENTINEL.encode()),
    )
    slow = receivers(hold=True)
    closed = f"http://127.0.0.1:{free_port()}/in"
    subs = {
        name: subscribe(n, url).json()["id"]
        for name, url in (("talkative", talkative.url), ("slow", slow.url), ("closed", closed))
    }
    one_event(n)
    logs = {name: settle(n, sid) for name, sid in subs.items()}
    assert logs["talkative"]["last_error"] == "HTTP 403 Forbidden" and logs["talkative"]["response_status"] == 403
    assert logs["talkative"]["attempts"] == 2  # the 500 was retried, the 403 parked it
    assert logs["slow"]["last_error"] == "timeout" and logs["slow"]["response_status"] is None
    assert logs["closed"]["last_error"] == "connection refused"
    for sid in subs.values():
        assert SENTINEL not in json.dumps(log_of(n, sid)) and "root:x" not in json.dumps(log_of(n, sid))


# ---- TLS to a checked address ---------------------------------------------------------------------
def _certificates(tmp_path):
    """A CA and a server certificate for hooks.example.vn signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def cert(subject, issuer, key, signer, ca: bool, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCOP test CA")])
    ca = cert(ca_name, ca_name, ca_key, ca_key, True)
    leaf = cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.vn")]),
        ca_name,
        key,
        ca_key,
        False,
        "hooks.example.vn",
    )
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tmp_path / "ca.pem", tmp_path / "leaf.pem"


def test_tls_checks_the_certificate_against_the_name_not_the_address(tmp_path, receivers):
    ca, leaf = _certificates(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(leaf)
    receiver = receivers(tls=server_tls)
    client_tls = ssl.create_default_context(cafile=str(ca))
    policy = TargetPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))  # https only, as by default
    settings = SimpleNamespace(http_timeout_seconds=5.0, extra={"webhook_policy": policy})
    table = {"hooks.example.vn": ["127.0.0.1"], "other.example.vn": ["127.0.0.1"]}
    channel = WebhookChannel(settings, resolve=lambda host, port: table[host], context=client_tls)
    delivery = SimpleNamespace(payload='{"id": "e-1"}', event_type="events.invitation.issued", event_id="e-1", id="d-1")

    def send(host):
        return channel.send(delivery, SimpleNamespace(url=f"https://{host}:{receiver.port}/in", secret="s" * 32))

    assert send("hooks.example.vn") == 200
    assert receiver.requests[-1]["host"] == f"hooks.example.vn:{receiver.port}"
    with pytest.raises(ChannelError, match="TLS certificate not valid for the host"):
        send("other.example.vn")  # the same address under a name the certificate does not carry
    plain = WebhookChannel(settings, resolve=lambda host, port: table[host])  # the system's CAs: not ours
    with pytest.raises(ChannelError, match="TLS certificate not valid for the host"):
        plain.send(delivery, SimpleNamespace(url=f"https://hooks.example.vn:{receiver.port}/in", secret="s" * 32))


# ---- ownership --------------------------------------------------------------------------------------
def test_a_subscription_is_its_owners_alone_and_admins_see_all(notifier, receivers):
    n = notifier(LOCAL)
    a, b = ("integration", "portal-a"), ("integration", "portal-b")
    officer, admin = ("trade_officer", "officer-1"), ("admin", "ops")
    refusing = receivers((400, {}, b"no"))
    mine = subscribe(n, refusing.url + "/a").json()
    theirs = subscribe(n, refusing.url + "/b", who=integration("portal-b")).json()
    assert mine["owner"] == "integration:portal-a" and theirs["owner"] == "integration:portal-b"
    one_event(n)
    parked = settle(n, mine["id"])

    def call(who, method, path, **kw):
        return n.call(method, path, who[0], sub=who[1], **kw)

    sid = mine["id"]
    nothing = call(a, "GET", "/webhooks/no-such-id").json()
    for who in (b, officer):
        assert [s["id"] for s in call(who, "GET", "/webhooks").json()] == ([theirs["id"]] if who == b else [])
        for method, path, body in [
            ("GET", f"/webhooks/{sid}", None),
            ("PATCH", f"/webhooks/{sid}", {"url": refusing.url + "/stolen"}),
            ("PATCH", f"/webhooks/{sid}", {"rotate_secret": True}),
            ("PATCH", f"/webhooks/{sid}", {"secret": "x" * 40}),
            ("GET", f"/webhooks/{sid}/deliveries", None),
            ("POST", f"/webhooks/{sid}/deliveries/{parked['id']}/retry", None),
            ("DELETE", f"/webhooks/{sid}", None),
        ]:
            r = call(who, method, path, json=body)
            assert r.status_code == 404, (who, method, path, r.status_code)
            assert r.json()["message"] == nothing["message"]  # not told apart from an id that does not exist
    assert [s["id"] for s in call(a, "GET", "/webhooks").json()] == [sid]
    assert call(a, "GET", f"/webhooks/{theirs['id']}").status_code == 404
    row = call(admin, "GET", f"/webhooks/{sid}").json()
    assert row["url"] == refusing.url + "/a" and row["owner"] == "integration:portal-a"  # nothing changed

    from services.notifications.models import WebhookSubscription

    with n.rt.transaction() as s:  # not re-keyed either: the owner's secret is the one it was given
        assert s.get(WebhookSubscription, sid).secret == mine["secret"]
    assert {s["id"] for s in call(admin, "GET", "/webhooks").json()} == {sid, theirs["id"]}
    assert [d["id"] for d in call(admin, "GET", f"/webhooks/{sid}/deliveries").json()] == [parked["id"]]
    assert call(admin, "PATCH", f"/webhooks/{sid}", json={"description": "checked by ops"}).status_code == 200
    assert call(admin, "POST", f"/webhooks/{sid}/deliveries/{parked['id']}/retry").json()["status"] == "queued"
    assert call(a, "GET", f"/webhooks/{sid}").json()["description"] == "checked by ops"
    assert call(b, "DELETE", f"/webhooks/{theirs['id']}").status_code == 204
    assert call(a, "DELETE", f"/webhooks/{sid}").status_code == 204
    assert call(admin, "GET", "/webhooks").json() == []


def test_subscriptions_made_before_owners_are_admins_only_and_their_log_loses_the_answers(tmp_path):
    """Migration ee30290e1057 on the mode's database: an existing subscription belongs to "legacy"
    (no token's "<role>:<sub>"), and the answers its log kept are replaced by our own words."""
    import os

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session
    from support import real_mode, reset_postgres

    from services.notifications import subscriptions
    from shared.config import ROOT

    if real_mode():
        url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], ["ocop_h5_webhook_owner"])["ocop_h5_webhook_owner"]
    else:
        url = f"sqlite:///{tmp_path / 'n.sqlite'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / "notifications" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "2bd6e3a14132")
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, url, event_types, secret, active, created_by, "
                "created_at, updated_at) VALUES ('s-1', 'http://10.0.0.5/x', '[]', 'k', true, "
                "'integration:', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, payload, "
                "status, attempts, last_error, response_status, next_attempt_at, created_at) VALUES "
                "(:id, 's-1', :id, 't', '{}', 'parked', 1, :err, :status, :now, :now)"
            ),
            [
                {"id": "d-1", "err": f"HTTP 500 Internal Server Error: {SENTINEL}", "status": 500, "now": now},
                {"id": "d-2", "err": f"URLError: {SENTINEL}", "status": None, "now": now},
            ],
        )
    try:
        command.upgrade(cfg, "head")
        with Session(engine) as s:
            assert subscriptions.list_subscriptions(s, "integration:-") == []
            assert [r.owner for r in subscriptions.list_subscriptions(s, subscriptions.ADMIN)] == ["legacy"]
            errors = dict(s.execute(text("SELECT id, last_error FROM webhook_deliveries")).all())
        assert errors == {"d-1": "HTTP 500", "d-2": "failed (details not kept)"}
    finally:
        engine.dispose()
