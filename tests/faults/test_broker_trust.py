"""The broker's users as deploy/rabbitmq/definitions.json makes them, on a vhost of this test's own:
what a service's credentials can no longer do, what consumers refuse, crash loops, and the replies
an integration receives to its commands.

The definitions are imported with ``rabbitmqctl import_definitions`` (renamed to a private vhost;
the users are the file's, with its development passwords). Each worker connects as its own
service user, exactly as docker-compose starts them; the test reads queues as ``admin``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import pika
import pytest
import requests
from e2e.deployment import Deployment, Processes, pg_value, process_env, queue_counts, real_env
from support import ROOT, free_port, wait_for

from shared.bus.definitions import build_definitions, for_vhost
from shared.contracts import sample

pytestmark = [
    pytest.mark.real_only,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl on this machine"),
]

FEED = "events.registry-feed"


def user_url(base: str, user: str, vhost: str) -> str:
    parts = urlsplit(base)
    return f"amqp://{user}:{user}-dev-password@{parts.hostname}:{parts.port or 5672}/{quote(vhost, safe='')}"


@pytest.fixture(scope="module")
def broker():
    """A vhost holding exactly the definitions file's topology, users, permissions and policies."""
    vhost = f"ocop_trust_{os.environ.get('OCOP_TEST_TAG', '')}{os.getpid()}"
    # A file the broker's own user can read (rabbitmqctl may run as rabbitmq; pytest's tmp is private).
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp", delete=False, encoding="utf-8") as f:
        json.dump(for_vhost(build_definitions(), vhost), f)
    os.chmod(f.name, 0o644)
    try:
        done = subprocess.run(
            ["rabbitmqctl", "import_definitions", f.name], capture_output=True, text=True, timeout=120
        )
    finally:
        os.unlink(f.name)
    assert done.returncode == 0, done.stdout + done.stderr
    base = os.environ["OCOP_BROKER_URL"]
    urls = {
        u: user_url(base, u, vhost) for u in ("registry", "events", "notifications", "integration-example", "admin")
    }

    def can_log_in():
        try:
            pika.BlockingConnection(pika.URLParameters(urls["integration-example"])).close()
            return True
        except pika.exceptions.AMQPError:
            return False

    wait_for(can_log_in, timeout=60, message="the imported users to log in")
    try:
        yield urls
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def platform(tmp_path_factory, broker):
    """Databases migrated; the workers are started by the tests, each as its own broker user."""
    tmp = tmp_path_factory.mktemp("faults-trust")
    procs = Processes(tmp / "logs")
    env = process_env(real_env(tmp, "trust", broker["admin"]))
    env.pop("OCOP_BROKER_USERS")  # the definitions' users: registry, events, notifications
    env["OCOP_WORKER_METRICS_PORT"] = str(free_port())
    dep = Deployment(procs, env)
    dep.migrate()
    dep.users = broker
    try:
        yield dep
    finally:
        procs.kill_all()
        print(procs.report())


def start_worker(dep: Deployment, svc: str) -> None:
    """As its own broker user; the events worker serves its metrics on OCOP_WORKER_METRICS_PORT."""
    port = {} if svc == "events" else {"OCOP_WORKER_METRICS_PORT": str(free_port())}
    dep.start_worker(svc, OCOP_BROKER_URL=dep.users[svc], **port)
    dep.wait_consuming(svc)
    if svc == "registry":
        wait_for(
            lambda: queue_counts(dep.users["admin"], "registry.commands")[1] >= 1,
            timeout=60,
            message="the registry consuming its commands",
        )


def publish(url: str, messages: list[tuple], exchange: str = "ocop.events") -> None:
    """``(routing key, body, message id, user_id)`` with confirms; raises if the broker refuses one."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for key, body, message_id, user_id in messages:
            ch.basic_publish(
                exchange,
                key,
                body,
                pika.BasicProperties(
                    content_type="application/json", delivery_mode=2, message_id=message_id, user_id=user_id
                ),
                mandatory=True,
            )
    finally:
        if conn.is_open:
            conn.close()


def as_message(envelope: dict, user_id: str | None, key: str | None = None) -> tuple:
    return key or envelope["type"], json.dumps(envelope).encode(), envelope["id"], user_id


def envelope(type_: str, source: str, subject: str, data: dict) -> dict:
    """An envelope as it travels (JSON values), like the samples."""
    event_id = str(uuid.uuid4())
    return {
        "id": event_id,
        "type": type_,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": source,
        "subject": subject,
        "subject_version": 2,
        "correlation_id": event_id,
        "causation_id": None,
        "data": data,
    }


def certification(province: str = "Lạng Sơn") -> dict:
    product_id = str(uuid.uuid4())
    data = {
        **sample("registry.certification.granted", 1)["data"],
        "product_id": product_id,
        "producer_id": str(uuid.uuid4()),
        "certification_id": str(uuid.uuid4()),
        "province": province,
    }
    return envelope("registry.certification.granted", "registry", product_id, data)


def applied(dep: Deployment, envelopes: list[dict]) -> int:
    return pg_value(
        dep.env,
        "events",
        "SELECT count(*) FROM certified_products WHERE product_id = ANY(%s)",
        [e["subject"] for e in envelopes],
    )


def dead(dep: Deployment, queue: str) -> list[dict]:
    from shared.bus import admin
    from shared.bus.connection import connect

    conn = connect(dep.users["admin"])
    try:
        return admin.peek(conn, queue, limit=1000)
    finally:
        conn.release()


def metric(dep: Deployment, name: str, queue: str) -> float:
    text = requests.get(f"http://127.0.0.1:{dep.env['OCOP_WORKER_METRICS_PORT']}/metrics", timeout=5).text
    prefix = f'{name}{{queue="{queue}"}} '
    return next((float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)), 0.0)


# ---- the default exchange and user_id, refused by the broker --------------------------------------------
def test_a_service_user_cannot_write_into_another_services_queue_by_name(platform):
    dep = platform
    answered = envelope(
        "notifications.invitation.answered",
        "notifications",
        str(uuid.uuid4()),
        {**sample("notifications.invitation.answered", 1)["data"], "answered_at": "2020-01-01T00:00:00+00:00"},
    )
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        publish(
            dep.users["registry"],
            [("events.responses", json.dumps(answered).encode(), answered["id"], "registry")],
            exchange="",
        )
    assert refused.value.reply_code == 403 and "amq.default" in refused.value.reply_text
    # Nor can it claim to be the notifications service: RabbitMQ checks user_id against the login.
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        publish(dep.users["registry"], [as_message(answered, "notifications", key="registry.product.registered")])
    assert refused.value.reply_code == 406 and "user_id" in refused.value.reply_text
    # Nor put anything into another service's dead-letter or parking queue.
    for key in ("events.responses", "notifications.main.parking"):
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            publish(dep.users["registry"], [as_message(answered, "registry", key=key)], exchange="ocop.dead-letter")
        assert refused.value.reply_code == 403, key
    assert queue_counts(dep.users["admin"], "events.responses")[0] == 0


def test_forged_events_are_dropped_and_counted(platform):
    dep = platform
    start_worker(dep, "events")
    # Within its topic permission (registry.*), the registry's credentials try two forgeries.
    wearing_a_mask = {**certification(), "source": "notifications"}  # vouched as registry, claims notifications
    unvouched = certification()  # no user_id: the broker vouches for nobody
    honest = certification()
    publish(
        dep.users["registry"],
        [as_message(wearing_a_mask, "registry"), as_message(unvouched, None), as_message(honest, "registry")],
    )
    wait_for(lambda: applied(dep, [honest]) == 1, timeout=30, message="the honest event applied")
    reasons = wait_for(
        lambda: (lambda got: got if len(got) == 2 else None)(
            {
                m["message_id"]: m
                for m in dead(dep, f"{FEED}.dlq")
                if m["message_id"] in (wearing_a_mask["id"], unvouched["id"])
            }
        ),
        timeout=30,
        message="both forgeries in the DLQ",
    )
    assert reasons[wearing_a_mask["id"]]["reason"].startswith("untrusted: source 'notifications' may not send")
    assert reasons[unvouched["id"]]["reason"].startswith("untrusted: no user_id")
    assert reasons[wearing_a_mask["id"]]["sender"] == "registry"
    assert applied(dep, [wearing_a_mask, unvouched]) == 0
    assert metric(dep, "ocop_messages_untrusted_total", FEED) == 2
    purge(dep, f"{FEED}.dlq")  # clean for the crash-loop test


def purge(dep: Deployment, queue: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(dep.users["admin"]))
    try:
        conn.channel().queue_purge(queue)
    finally:
        conn.close()


# ---- a crash-looping consumer loses nothing to the delivery limit -----------------------------------------
@pytest.mark.slow
def test_a_worker_killed_as_soon_as_it_consumes_sends_nothing_to_the_dlq(platform):
    dep = platform
    if dep.procs.alive("events-worker"):
        dep.procs.kill("events-worker")
    certs = [certification(province="Cao Bằng") for _ in range(300)]
    publish(dep.users["registry"], [as_message(c, "registry") for c in certs])
    wait_for(lambda: queue_counts(dep.users["admin"], FEED)[0] >= 300, timeout=30, message="events queued")
    kills = 0
    for _ in range(14):
        dep.start_worker("events", OCOP_BROKER_URL=dep.users["events"])
        wait_for(
            lambda: queue_counts(dep.users["admin"], FEED)[1] >= 1 or not dep.procs.alive("events-worker"),
            timeout=60,
            interval=0.01,
            message="the worker consuming",
        )
        dep.procs.kill("events-worker")
        kills += 1
    at_last_kill = applied(dep, certs)
    print(f"{kills} kills; {at_last_kill} of 300 applied meanwhile")
    assert at_last_kill < 300, "the kills came too late to test anything"
    start_worker(dep, "events")
    wait_for(lambda: applied(dep, certs) == 300, timeout=120, interval=0.5, message="every event applied")
    assert queue_counts(dep.users["admin"], f"{FEED}.dlq")[0] == 0
    assert queue_counts(dep.users["admin"], f"{FEED}.parking")[0] == 0
    assert (
        pg_value(
            dep.env,
            "events",
            "SELECT count(*) FROM inbox WHERE consumer = %s AND event_id = ANY(%s)",
            FEED,
            [c["id"] for c in certs],
        )
        == 300
    )


# ---- an integration receives the replies to its commands ----------------------------------------------------
def test_the_integration_user_receives_the_replies_to_its_commands(platform):
    dep = platform
    start_worker(dep, "registry")
    url = dep.users["integration-example"]
    queue = f"ext.replies-{uuid.uuid4().hex[:6]}"
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(queue, "ocop.replies", routing_key="reply.integration-example.#")
        for key in ("reply.#", "reply.another-integration.#"):  # only its own replies
            other = conn.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
                other.queue_bind(queue, "ocop.replies", routing_key=key)
            assert refused.value.reply_code == 403, key
        command_id = f"council-{uuid.uuid4().hex[:8]}"
        command = envelope(
            "registry.record_certification",
            "external",
            command_id,
            {"command_id": command_id, "certification": {"product_id": str(uuid.uuid4()), "score": 91}},
        )
        publish(
            url,
            [
                as_message(command, "integration-example"),
                ("registry.record_certification", b'{"id": "x", "type": ', "malformed-1", "integration-example"),
            ],
            exchange="ocop.commands",
        )
        replies = {}

        def both():
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is not None:
                replies[props.correlation_id] = (method.routing_key, json.loads(body))
            return len(replies) == 2

        wait_for(both, timeout=60, interval=0.1, message="both replies")
    finally:
        try:
            conn.channel().queue_delete(queue)
        finally:
            conn.close()
    key, reply = replies[command["id"]]
    assert key == "reply.integration-example.registry.command.rejected"
    assert reply["type"] == "registry.command.rejected" and reply["data"]["command_id"] == command_id
    assert reply["data"]["errors"]  # the fields it lacks, by name
    key, reply = replies["malformed-1"]
    assert key == "reply.integration-example.registry.command.rejected"
    assert reply["data"]["command_id"] == "malformed-1"
    assert reply["data"]["errors"]["command"][0].startswith("body is not valid JSON")


def test_the_example_consumer_prints_the_reply_to_its_command(platform):
    """examples/consumer.py --replies: the README's integration example, as integration-example."""
    dep = platform
    if not dep.procs.alive("registry-worker"):
        start_worker(dep, "registry")
    url, name = dep.users["integration-example"], f"example-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "examples/consumer.py",
            "--url",
            url,
            "--name",
            name,
            "--max",
            "1",
            "--keys",
            "events.fair.published",
            "--replies",
            "integration-example",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def bound() -> bool:
            try:
                return queue_counts(dep.users["admin"], f"ext.{name}")[1] >= 1
            except pika.exceptions.ChannelClosedByBroker:
                return False

        wait_for(bound, timeout=30, message="the example consuming")
        publish(
            url,
            [("registry.record_certification", b"[]", "example-command-1", "integration-example")],
            exchange="ocop.commands",
        )
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        purge(dep, f"ext.{name}")
    assert proc.returncode == 0, err
    assert out.startswith("command example-command-1 rejected: {'command': ['message body is not a JSON object']}"), out
