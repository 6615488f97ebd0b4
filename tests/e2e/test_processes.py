"""End to end, with processes started as users start them.

Real deployment (as docker-compose runs it): per service ``python -m services.<svc>.manage
migrate``, gunicorn with two workers, and ``python -m services.<svc>.worker``, on RabbitMQ and
PostgreSQL, with a real SMTP server; the whole flow over HTTP, the probes, and SIGTERM.

Embedded default (a new user's first command): ``python -m embedded`` with its demo data.
"""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest
import requests
from e2e.deployment import (
    LINK,
    PYTHON,
    Client,
    Deployment,
    SmtpServer,
    all_sent,
    process_env,
    real_env,
    run,
    text_of,
)
from support import SERVICES, free_port, platform_env, real_mode, wait_for


# ---- the real deployment ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deployment(tmp_path_factory, vhost_url):
    from e2e.deployment import Processes

    tmp = tmp_path_factory.mktemp("e2e-processes")
    env = process_env(real_env(tmp, "e2eproc", vhost_url))
    procs = Processes(tmp / "logs")
    smtp = SmtpServer(int(env["SMTP_PORT"])).start()
    try:
        dep = Deployment(procs, env).start()
        dep.smtp = smtp
        yield dep
    finally:
        procs.kill_all()
        smtp.stop()
        print(procs.report())


@pytest.mark.real_only
def test_flow_over_http_between_processes(deployment):
    api, smtp = deployment.client, deployment.smtp
    mine = api.register_certified()
    producer, product, email = mine["producer"], mine["products"][0], mine["email"]
    assert mine["certifications"][0]["stars"] == 4 and producer["province"] == "Vĩnh Long"

    row = wait_for(lambda: api.in_read_model(product["id"]), timeout=30, message="read model row")
    assert row["stars"] == 4 and row["producer_id"] == producer["id"]

    fair = api.create_fair(capacity=5, min_stars=4, provinces=["Vĩnh Long"])
    invitations = api.publish(fair["id"])
    [invitation] = [i for i in invitations if i["producer_id"] == producer["id"]]
    assert invitation["status"] == "issued"

    [msg] = wait_for(lambda: smtp.to(email), timeout=30, message="invitation email")
    assert str(msg["Subject"]).startswith("Thư mời tham gia Hội chợ OCOP Cần Thơ")
    text = text_of(msg)
    assert "Kẹo dừa sầu riêng 1 (4 sao)" in text and "Công viên sông Hậu" in text
    link = LINK.search(text).group(1)
    assert link.startswith(deployment.urls["notifications"] + "/r/")

    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Đồng ý tham gia" in page.text and fair["name"] in page.text
    done = requests.post(link, data={"answer": "accept", "note": "Hai gian hàng mẫu"}, timeout=10)
    assert done.status_code == 200 and "đồng ý tham gia" in done.text

    def accepted():
        inv = api.call("GET", "events", f"/invitations/{invitation['id']}", "trade_officer").json()
        return inv if inv["status"] == "accepted" else None

    final = wait_for(accepted, timeout=30, message="acceptance recorded")
    assert final["booth"] == 1 and final["note"] == "Hai gian hàng mẫu"
    wait_for(lambda: "gian hàng số 1" in requests.get(link, timeout=10).text, timeout=30, message="verdict on page")
    # the invitation, then the confirmation of the booth: each emailed once
    deliveries = wait_for(all_sent(api, 2), timeout=30, message="deliveries logged as sent")
    assert sorted(d["template"] for d in deliveries) == ["accepted", "invitation"]
    assert {d["producer_id"] for d in deliveries} == {producer["id"]} and smtp.by_recipient()[email] == 2


@pytest.mark.real_only
def test_two_notifications_worker_replicas_email_each_producer_once(deployment):
    """docker-compose runs two notifications worker replicas: with both consuming, claiming and
    relaying, a fair's invitations reach each producer exactly once."""
    from e2e.deployment import queue_counts, wait_emails

    api, smtp, name = deployment.client, deployment.smtp, "notifications-second"
    deployment.start_worker("notifications", name=name)
    wait_for(
        lambda: deployment.procs.alive(name) and queue_counts(deployment.broker_url, "notifications.main")[1] >= 2,
        timeout=60,
        interval=0.2,
        message="two notifications workers consuming",
    )
    mine = api.register_many(12)
    emails, producers = [m["email"] for m in mine], {m["producer"]["id"] for m in mine}
    for m in mine:  # the events service has heard of every certified product
        wait_for(lambda m=m: api.in_read_model(m["products"][0]["id"]), timeout=30, message="read model row")
    fair = api.create_fair(capacity=500, min_stars=4, provinces=["Vĩnh Long"])
    issued = [i for i in api.publish(fair["id"]) if i["producer_id"] in producers]
    assert len(issued) == 12 and all(i["status"] == "issued" for i in issued)
    wait_emails(smtp, emails, timeout=90, procs=deployment.procs)

    def sent():
        rows = [d for d in api.deliveries(channel="email") if d["ref_id"] in {i["id"] for i in issued}]
        return rows if len(rows) == 12 and all(d["status"] == "sent" for d in rows) else None

    rows = wait_for(sent, timeout=60, interval=0.2, message="the invitations logged as sent")
    # every delivery is committed as sent: none can be sent again. (An earlier test's fair with
    # room left tops up with these new producers too: count this fair's emails.)
    counts = {e: sum(fair["name"] in str(m["Subject"]) for m in smtp.to(e)) for e in emails}
    assert counts == {e: 1 for e in emails}
    assert {d["producer_id"] for d in rows} == producers and all(d["attempts"] == 1 for d in rows)
    deployment.procs.signal(name, signal.SIGTERM, group=False)
    assert deployment.procs.procs[name].wait(timeout=20) == 0, deployment.procs.tail(name)


@pytest.mark.real_only
@pytest.mark.parametrize("svc", SERVICES)
def test_probes_and_metrics(deployment, svc):
    base = deployment.urls[svc]
    live = requests.get(base + "/livez", timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "ok", "service": svc}
    ready = requests.get(base + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    spec = requests.get(base + "/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    metrics = requests.get(base + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert f'ocop_outbox_lag_seconds{{service="{svc}"}}' in metrics.text
    assert "ocop_http_request_duration_seconds" in metrics.text


@pytest.mark.real_only
@pytest.mark.parametrize("svc", SERVICES)
def test_worker_stops_cleanly_on_sigterm(deployment, svc):
    """A second replica of the worker (replicas compete for the queues) gets SIGTERM once it runs."""
    name = f"{svc}-replica"
    metrics_port = free_port()
    deployment.start_worker(svc, name=name, OCOP_WORKER_METRICS_PORT=str(metrics_port), OCOP_LOG_LEVEL="INFO")

    def running():
        assert deployment.procs.alive(name), deployment.procs.tail(name)
        try:
            return requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(running, timeout=60, interval=0.2, message=f"{name} running")
    if svc != "registry":  # the replica has attached to its queues beside the first worker
        from e2e.deployment import WORKER_QUEUES, queue_counts

        wait_for(
            lambda: all(queue_counts(deployment.broker_url, q)[1] >= 2 for q in WORKER_QUEUES[svc]),
            timeout=30,
            interval=0.2,
            message=f"{name} consuming",
        )
    started = time.monotonic()
    deployment.procs.signal(name, signal.SIGTERM, group=False)
    rc = deployment.procs.procs[name].wait(timeout=20)
    took = time.monotonic() - started
    assert rc == 0, deployment.procs.tail(name)
    assert took < 15, f"took {took:.1f}s to stop"
    assert "worker stopped" in deployment.procs.logs[name].read_text("utf-8", "replace")


# ---- the embedded default -----------------------------------------------------------------------------
@pytest.fixture
def embedded_env(tmp_path, monkeypatch):
    """platform_env in embedded mode whatever the suite's mode: embedded:// broker and SQLite files."""
    monkeypatch.delenv("OCOP_TEST_PG_URL", raising=False)
    monkeypatch.delenv("OCOP_BROKER_URL", raising=False)
    assert not real_mode()
    env = platform_env(tmp_path, "e2eembedded")
    assert env["OCOP_BROKER_URL"].startswith("embedded://")
    return process_env(env)


def test_embedded_default_with_demo_data(tmp_path, embedded_env, procs):
    env = embedded_env
    proc = procs.start("embedded", [PYTHON, "-m", "embedded"], env)
    urls = {name: f"http://127.0.0.1:{env[f'OCOP_{name.upper()}_PORT']}" for name in ("console", *SERVICES)}
    api = Client(urls)

    def up():
        assert proc.poll() is None, procs.tail("embedded")
        try:
            return all(requests.get(urls[s] + "/readyz", timeout=2).ok for s in SERVICES)
        except requests.RequestException:
            return False

    wait_for(up, timeout=60, interval=0.2, message="embedded platform up")
    spec = requests.get(urls["registry"] + "/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "OCOP registry API"
    assert "/producers" in spec.json()["paths"]

    fairs = api.call("GET", "events", "/fairs", "trade_officer").json()
    assert len(fairs) == 5 and all(f["status"] == "draft" for f in fairs)
    fair = next(f for f in fairs if f["name"] == "Lễ hội OCOP toàn quốc – Hà Nội 2027")
    assert fair["capacity"] == 25

    # the demo register (200 certified products) reaches the events read model through the bus
    def read_model_rows():
        with sqlite3.connect(tmp_path / "events.sqlite", timeout=10) as db:
            return db.execute("SELECT count(*) FROM certified_products").fetchone()[0]

    wait_for(lambda: read_model_rows() == 200, timeout=60, interval=0.3, message="demo read model")
    # the certified rows arrive before the last product and producer updates: wait for the ranking itself
    wait_for(
        lambda: len(api.call("GET", "events", f"/fairs/{fair['id']}/preview", "trade_officer").json()) > 25,
        timeout=60,
        interval=0.5,
        message="more candidates than the national festival's 25 booths",
    )
    invitations = api.publish(fair["id"])
    issued = [i for i in invitations if i["status"] == "issued"]
    assert len(issued) == 25 and any(i["status"] == "waitlisted" for i in invitations)

    # every issued invitation gets a delivery by email (demo producers without email are
    # undeliverable there, or reached by SMS alone), and those with a mobile number and SMS
    # consent a text message too
    def deliveries_done():
        every = api.deliveries()
        rows = [d for d in every if d["channel"] != "sms"]
        settled = all(d["status"] in ("sent", "undeliverable") for d in every)
        done = settled and len({d["producer_id"] for d in every}) == 25
        return (rows, [d for d in every if d["channel"] == "sms"]) if done else None

    rows, texts = wait_for(deliveries_done, timeout=60, interval=0.3, message="25 deliveries settled")
    sms_listing = run([PYTHON, "-m", "embedded.sms"], env).stdout
    assert texts and all(d["status"] == "sent" for d in texts)
    assert len(sms_listing.strip().splitlines()) == len(texts) and "+849" in sms_listing
    sent = [d for d in rows if d["status"] == "sent"]
    assert sent and {d["producer_id"] for d in rows + texts} == {i["producer_id"] for i in issued}

    from embedded.mailsink import Mailbox

    mails = Mailbox(tmp_path / "mailbox.sqlite").list(1000)
    assert len(mails) == len(sent)
    assert all(
        subject.startswith("Thư mời tham gia Lễ hội OCOP toàn quốc") or subject.startswith("Invitation")
        for _, _, _, subject in mails
    ), mails
    assert len({rcpt for _, _, rcpt, _ in mails}) == len(sent)  # one email per producer

    listing = run([PYTHON, "-m", "embedded.mail"], env).stdout
    assert len(listing.strip().splitlines()) == len(sent) and "@demo.ocop.vn" in listing
    first_id = mails[-1][0]
    shown = run([PYTHON, "-m", "embedded.mail", str(first_id)], env).stdout
    assert "Trung tâm Triển lãm Việt Nam" in shown and "/r/" in shown

    console = requests.get(urls["console"] + "/dev/", timeout=10)
    assert console.status_code == 200 and "Mailbox" in console.text
    assert all(rcpt in console.text for _, _, rcpt, _ in mails[:25])
    page = requests.get(f"{urls['console']}/dev/mail/{first_id}", timeout=10)
    assert page.status_code == 200 and "Lễ hội OCOP toàn quốc" in page.text

    # a clean SIGTERM; the data stays in the data directory, each event applied once
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, procs.tail("embedded")
    assert read_model_rows() == 200
    with sqlite3.connect(tmp_path / "events.sqlite") as db:
        handled = dict(
            db.execute(
                "SELECT event_type, count(*) FROM inbox WHERE consumer = 'events.registry-feed' GROUP BY event_type"
            ).fetchall()
        )
    from collections import Counter

    from embedded import demo
    from shared.instants import vietnam_today

    # the register's history: each decision's certificates (new, re-certified, upgraded), and the 16
    # products whose "potential 5★" flag a provincial 90+ set
    listed = Counter(d["kind"] for d in demo.decisions(vietnam_today()) for _ in d["scores"])
    assert listed["certify"] == 200
    assert handled == {
        "registry.producer.registered": 76,
        "registry.product.registered": 200,
        "registry.certification.granted": 200,
        "registry.certification.renewed": listed["recertify"],
        "registry.certification.upgraded": listed["upgrade"],
        "registry.product.updated": 16,
    }
