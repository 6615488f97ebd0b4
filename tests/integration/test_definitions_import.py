"""deploy/rabbitmq/definitions.json imported into the real RabbitMQ: the per-service users can do
their job and nothing more.

Runs only when OCOP_BROKER_URL is an amqp:// URL and ``rabbitmqctl`` can reach that broker (it
is on PATH and the broker is on this machine). The definitions go to ``rabbitmqctl`` on standard
input (where the checkout lives does not matter: the broker's own process never reads the file),
with their vhost ``ocop`` renamed to one of this run's own, deleted afterwards; users are global, so
the import sets the development passwords of the file's users, as deploying it does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Consumer, Exchange, Queue
from support import wait_for

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
BROKER_URL = os.environ.get("OCOP_BROKER_URL", "")
LOCAL = {"127.0.0.1", "localhost", "::1"}

pytestmark = pytest.mark.skipif(
    not BROKER_URL.startswith("amqp")
    or shutil.which("rabbitmqctl") is None
    or urlsplit(BROKER_URL).hostname not in LOCAL,
    reason="needs OCOP_BROKER_URL=amqp://... on this machine and rabbitmqctl",
)


VHOST = f"ocop_defs_{os.environ.get('OCOP_TEST_TAG', '')}{os.getpid()}"


def _definitions() -> dict:
    """The file's definitions, in this run's vhost."""
    definitions = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    for key, items in definitions.items():
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    for field in ("vhost", "name") if key == "vhosts" else ("vhost",):
                        if item.get(field) == "ocop":
                            item[field] = VHOST
    return definitions


def _ctl(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *args], input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr or result.stdout
    return result.stdout


def _listed(*args: str) -> list[dict]:
    return json.loads(_ctl(*args, "--formatter", "json") or "[]")


def _url(user: str) -> str:
    parts = urlsplit(BROKER_URL)
    return f"amqp://{user}:{user}-dev-password@{parts.hostname}:{parts.port or 5672}/{VHOST}"


def _connect(user: str, **options) -> Connection:
    conn = Connection(_url(user), connect_timeout=5, **options)
    conn.ensure_connection(max_retries=1)
    return conn


def _can_connect(user: str) -> bool:
    try:
        _connect(user).release()
        return True
    except Exception:  # noqa: BLE001 - not imported yet (the import is asynchronous)
        return False


@pytest.fixture(scope="module")
def imported():
    # no file argument: the CLI reads standard input (3.10's CLI takes "-" for a file name)
    _ctl("import_definitions", "--format", "json", stdin=json.dumps(_definitions()))
    try:
        wait_for(
            lambda: _can_connect("registry") and _can_connect("integration-example"),
            timeout=60,
            message=f"the imported users to be able to log in to vhost {VHOST}",
        )
        yield _definitions()
    finally:
        _ctl("delete_vhost", VHOST)


def _differences(defined: dict) -> list[str]:
    """What the broker holds that differs from the definitions (empty once the import is done)."""

    def tags(value):
        return sorted(value.split(",") if isinstance(value, str) else value)

    users = {u["user"]: tags(u["tags"]) for u in _listed("list_users")}
    queues = {
        (q["name"], q["type"], q["durable"]) for q in _listed("list_queues", "-p", VHOST, "name", "type", "durable")
    }
    exchanges = {
        (e["name"], e["type"], e["durable"]) for e in _listed("list_exchanges", "-p", VHOST, "name", "type", "durable")
    }
    bindings = {
        (b["source_name"], b["destination_name"], b["routing_key"])
        for b in _listed("list_bindings", "-p", VHOST, "source_name", "destination_name", "routing_key")
    }
    policies = {
        p["name"]: (p["pattern"], p["apply-to"], json.loads(p["definition"]), p["priority"])
        for p in _listed("list_policies", "-p", VHOST)
    }
    permissions = {p["user"]: (p["configure"], p["write"], p["read"]) for p in _listed("list_permissions", "-p", VHOST)}
    topics = {(t["user"], t["exchange"], t["write"], t["read"]) for t in _listed("list_topic_permissions", "-p", VHOST)}
    checks = {
        "users": {u["name"]: tags(u["tags"]) for u in defined["users"]}.items() <= users.items(),
        "queues": queues == {(q["name"], q["arguments"]["x-queue-type"], q["durable"]) for q in defined["queues"]},
        "exchanges": {(e["name"], e["type"], e["durable"]) for e in defined["exchanges"]} <= exchanges,
        "bindings": {(b["source"], b["destination"], b["routing_key"]) for b in defined["bindings"]} <= bindings,
        "policies": policies
        == {p["name"]: (p["pattern"], p["apply-to"], p["definition"], p["priority"]) for p in defined["policies"]},
        "permissions": permissions
        == {p["user"]: (p["configure"], p["write"], p["read"]) for p in defined["permissions"]},
        "topic permissions": topics
        == {(t["user"], t["exchange"], t["write"], t["read"]) for t in defined["topic_permissions"]},
    }
    return [name for name, same in checks.items() if not same]


def test_the_broker_holds_what_the_definitions_define(imported):
    """Users, queues, exchanges, bindings, policies and (topic) permissions, as the file has them (the
    import is asynchronous: wait until they are all there, then compare)."""
    assert len(imported["queues"]) > 10 and len(imported["policies"]) >= 4 and imported["topic_permissions"]
    try:
        wait_for(lambda: not _differences(imported), timeout=60, interval=0.5, message="the definitions imported")
    finally:
        assert _differences(imported) == []


def _queue_depth(conn: Connection, queue: str) -> int:
    return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def test_registry_publishes_its_events_but_cannot_consume_another_services_queue(imported):
    admin = _connect("admin")
    admin.default_channel.queue_purge("events.registry-feed")
    conn = _connect("registry", transport_options={"confirm_publish": True})
    try:
        producer = conn.Producer()
        # Confirmed by the broker (confirm_publish): a refused publish would raise here.
        producer.publish(
            {"probe": str(uuid.uuid4())},
            exchange="ocop.events",
            routing_key="registry.product.registered",
            serializer="json",
            retry=False,
        )
        wait_for(
            lambda: _queue_depth(admin, "events.registry-feed") == 1,
            timeout=10,
            message="the registry's event to reach events.registry-feed",
        )

        with pytest.raises(AccessRefused, match="events.registry-feed"):
            queue = Queue("events.registry-feed", no_declare=True)
            with Consumer(conn.channel(), queues=[queue], callbacks=[lambda body, message: None], no_ack=False):
                conn.drain_events(timeout=2)

        # Topic permission: the registry may not publish another service's event types.
        channel = conn.channel()
        with pytest.raises(AccessRefused, match="events.fair.published"):
            channel.basic_publish_confirm(
                channel.prepare_message(b"{}", content_type="application/json"),
                exchange="ocop.events",
                routing_key="events.fair.published",
            )
    finally:
        conn.release()
        admin.default_channel.queue_purge("events.registry-feed")
        admin.release()


def test_registry_consumes_its_own_command_queue(imported):
    conn = _connect("registry")
    try:
        queue = Queue("registry.commands", no_declare=True)
        with Consumer(conn.channel(), queues=[queue], callbacks=[lambda body, message: message.ack()]):
            try:
                conn.drain_events(timeout=0.3)
            except TimeoutError:
                pass  # nothing to consume: what matters is that basic.consume was accepted
    finally:
        conn.release()


def test_integration_example_binds_ext_queues_to_public_events_only(imported):
    name = f"ext.test-{uuid.uuid4().hex[:8]}"
    conn = _connect("integration-example")
    try:
        events = Exchange("ocop.events", type="topic", passive=True)
        Queue(
            name,
            events,
            routing_key="registry.certification.granted",
            durable=False,
            auto_delete=True,
            channel=conn.default_channel,
        ).declare()
        with pytest.raises(AccessRefused):
            conn.channel().queue_bind(name, "ocop.events", routing_key="registry.producer.registered")
        with pytest.raises(AccessRefused):
            conn.channel().queue_declare(
                queue="events.registry-feed", passive=False, durable=True, arguments={"x-queue-type": "quorum"}
            )
    finally:
        try:
            conn.channel().queue_delete(name)
        finally:
            conn.release()
