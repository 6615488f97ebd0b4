"""deploy/rabbitmq/definitions.json imported into the real RabbitMQ: the per-service users can do
their job and nothing more.

Runs only when OCOP_BROKER_URL is an amqp:// URL and ``rabbitmqctl`` can reach that broker (it
is on PATH and the broker is on this machine). Everything happens in the vhost ``ocop``, which
no other test uses (they use ``/``); the import only adds or updates definitions.
"""

from __future__ import annotations

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
    not BROKER_URL.startswith("amqp") or shutil.which("rabbitmqctl") is None
    or urlsplit(BROKER_URL).hostname not in LOCAL,
    reason="needs OCOP_BROKER_URL=amqp://... on this machine and rabbitmqctl")


def _url(user: str) -> str:
    parts = urlsplit(BROKER_URL)
    return f"amqp://{user}:{user}-dev-password@{parts.hostname}:{parts.port or 5672}/ocop"


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
    result = subprocess.run(["rabbitmqctl", "import_definitions", str(DEFINITIONS)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr or result.stdout
    wait_for(lambda: _can_connect("registry") and _can_connect("integration-example"), timeout=60,
             message="the imported users to be able to log in to vhost ocop")


def _queue_depth(conn: Connection, queue: str) -> int:
    return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def test_registry_publishes_its_events_but_cannot_consume_another_services_queue(imported):
    admin = _connect("admin")
    admin.default_channel.queue_purge("events.registry-feed")
    conn = _connect("registry", transport_options={"confirm_publish": True})
    try:
        producer = conn.Producer()
        # Confirmed by the broker (confirm_publish): a refused publish would raise here.
        producer.publish({"probe": str(uuid.uuid4())}, exchange="ocop.events",
                         routing_key="registry.product.registered", serializer="json", retry=False)
        wait_for(lambda: _queue_depth(admin, "events.registry-feed") == 1, timeout=10,
                 message="the registry's event to reach events.registry-feed")

        with pytest.raises(AccessRefused, match="events.registry-feed"):
            queue = Queue("events.registry-feed", no_declare=True)
            with Consumer(conn.channel(), queues=[queue], callbacks=[lambda body, message: None], no_ack=False):
                conn.drain_events(timeout=2)

        # Topic permission: the registry may not publish another service's event types.
        channel = conn.channel()
        with pytest.raises(AccessRefused, match="events.fair.published"):
            channel.basic_publish_confirm(channel.prepare_message(b"{}", content_type="application/json"),
                                          exchange="ocop.events", routing_key="events.fair.published")
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
        Queue(name, events, routing_key="registry.certification.granted", durable=False, auto_delete=True,
              channel=conn.default_channel).declare()
        with pytest.raises(AccessRefused):
            conn.channel().queue_bind(name, "ocop.events", routing_key="registry.producer.registered")
        with pytest.raises(AccessRefused):
            conn.channel().queue_declare(queue="events.registry-feed", passive=False, durable=True,
                                         arguments={"x-queue-type": "quorum"})
    finally:
        try:
            conn.channel().queue_delete(name)
        finally:
            conn.release()
