"""``python -m shared.bus.cli``: refused messages are listed with their reason, parked ones are
listed after their retries and re-driven, and a re-driven message is then handled once.

A real IdempotentConsumer for ``events.registry-feed`` runs in this process; the CLI runs as a
subprocess, as an operator runs it. On RabbitMQ (OCOP_BROKER_URL=amqp://...) the test uses a
vhost of its own when it can create one with rabbitmqctl (the flow tests purge the queues of
``/`` at their start), and purges its queues first. On the embedded broker (a SQLite file in a
temp dir) the consumer is stopped whenever the CLI touches the file: the embedded broker
belongs to one process, and a process that opens the file makes its in-flight messages ready
again.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from kombu import Producer
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, mapped_column
from support import wait_for

from shared.bus import admin
from shared.bus.connection import connect, is_amqp
from shared.bus.consumer import IdempotentConsumer
from shared.bus.definitions import DELIVERY_LIMIT
from shared.bus.outbox import define_models
from shared.bus.topology import EVENTS_EXCHANGE, QUEUES, declare, queue_spec
from shared.bus.trust import SERVICES, Trust, connection_user
from shared.contracts import make_envelope
from shared.db import make_base, make_engine, make_session_factory

ROOT = Path(__file__).resolve().parents[2]
SPEC = queue_spec("events.registry-feed")
EVENT = "registry.product.registered"
TEST_VHOST = "ocop-test-bus-cli"


# ---- broker and database ------------------------------------------------------------------------
@functools.cache
def _private_vhost(url: str) -> str:
    """The same RabbitMQ, in a vhost only this test uses (if rabbitmqctl can make one here)."""
    parts = urlsplit(url)
    if shutil.which("rabbitmqctl") is None or parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        return url
    subprocess.run(["rabbitmqctl", "add_vhost", TEST_VHOST], capture_output=True, timeout=120)  # may exist
    done = subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", TEST_VHOST, parts.username or "guest", ".*", ".*", ".*"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return urlunsplit((parts.scheme, parts.netloc, "/" + TEST_VHOST, "", ""))


@pytest.fixture
def broker_url(tmp_path) -> str:
    url = os.environ.get("OCOP_BROKER_URL", "")
    if not url.startswith("amqp"):
        return f"embedded://{tmp_path / 'broker.sqlite'}"
    url = _private_vhost(url)
    conn = connect(url)
    try:
        declare(conn, amqp=True, services=(SPEC.service,))
        for queue in (SPEC.name, SPEC.dlq, SPEC.parking):  # leftovers of earlier runs
            conn.default_channel.queue_purge(queue)
    finally:
        conn.release()
    return url


class Db:
    def __init__(self, path: Path):
        Base = make_base()
        _outbox, self.Inbox = define_models(Base)

        class Seen(Base):  # what the handler did, committed with the inbox row
            __tablename__ = "seen"
            event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
            subject: Mapped[str] = mapped_column(String(100))

        self.Seen = Seen
        self.engine = make_engine(f"sqlite:///{path}")
        Base.metadata.create_all(self.engine)
        self.sessions = make_session_factory(self.engine)

    def seen(self, subject: str) -> int:
        with self.sessions() as session:
            return session.execute(select(func.count()).where(self.Seen.subject == subject)).scalar_one()


class Handler:
    """Records every event it is given; raises for the subjects in ``failing``."""

    def __init__(self, db: Db):
        self.db = db
        self.failing: set[str] = set()
        self.calls: list[str] = []

    def __call__(self, session, envelope, data):
        self.calls.append(envelope["subject"])
        if envelope["subject"] in self.failing:
            raise RuntimeError(f"cannot handle {envelope['subject']} yet")
        session.add(self.db.Seen(event_id=envelope["id"], subject=envelope["subject"]))


class Running:
    """An IdempotentConsumer on a thread, stopped on exit."""

    def __init__(self, db: Db, handler: Handler, url: str):
        # This test publishes as the broker user of its URL: the registry's events come from that user.
        trust = Trust(users={s: connection_user(url) or s for s in SERVICES}, check_users=is_amqp(url))
        self.consumer = IdempotentConsumer(
            SPEC, db.sessions, db.Inbox, {EVENT: handler}, url, max_attempts=2, prefetch=10, backoff=0.01, trust=trust
        )
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.consumer.run, args=(self.stop, self.ready), daemon=True)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(30), "consumer did not start"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "consumer did not stop"


# ---- helpers --------------------------------------------------------------------------------------
def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OCOP_BROKER_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "shared.bus.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def cli_lines(url: str, *args: str) -> list[dict]:
    done = cli(url, *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def publish(url: str, body, message_id: str, type_: str = EVENT) -> None:
    conn = connect(url)
    try:
        producer = Producer(conn.channel())
        producer.publish(
            body,
            exchange=EVENTS_EXCHANGE,
            routing_key=EVENT,
            serializer=None,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message_id,
            type=type_,
            user_id=connection_user(url),
        )
    finally:
        conn.release()


def product_event(subject: str) -> dict:
    return make_envelope(
        EVENT,
        1,
        "registry",
        subject,
        1,
        {
            "product_id": subject,
            "producer_id": str(uuid.uuid4()),
            "name": "Mắm tôm chà Gò Công",
            "name_en": None,
            "group": 1,
            "potential_five_star": False,
        },
    )


def depth(url: str, queue: str) -> int:
    conn = connect(url)
    try:
        return admin.queue_size(conn, queue)
    finally:
        conn.release()


# ---- the test -------------------------------------------------------------------------------------
def test_dead_lettered_and_parked_messages_are_listed_and_a_redriven_one_is_handled_once(tmp_path, broker_url):
    db = Db(tmp_path / "consumer.sqlite")
    handler = Handler(db)
    bad_subject, good_subject = f"fails-{uuid.uuid4()}", f"works-{uuid.uuid4()}"
    handler.failing.add(bad_subject)
    malformed_id = str(uuid.uuid4())
    failing, good = product_event(bad_subject), product_event(good_subject)

    with Running(db, handler, broker_url):
        publish(broker_url, '{"id": "' + malformed_id + '", "type": ', malformed_id)  # not JSON
        publish(broker_url, json.dumps(failing), failing["id"])
        publish(broker_url, json.dumps(good), good["id"])
        wait_for(lambda: db.seen(good_subject) == 1, message="the good event to be handled")
        wait_for(lambda: depth(broker_url, SPEC.dlq) >= 1, message="the malformed message in the dlq")
        wait_for(lambda: depth(broker_url, SPEC.parking) >= 1, message="the failing event to be parked")
    # (A consumer may first try several messages in one transaction, then each on its own: the
    # handler saw the failing event at least max_attempts times; the parked headers say 2.)
    tries = handler.calls.count(bad_subject)
    assert tries >= 2

    dead = {m["message_id"]: m for m in cli_lines(broker_url, "dlq", "list", SPEC.name)}
    assert set(dead[malformed_id]) == {
        "message_id",
        "type",
        "reason",
        "attempts",
        "deliveries",
        "sender",
        "failed_at",
        "dead_lettered_by_broker",
    }
    assert dead[malformed_id]["deliveries"] == 1 and dead[malformed_id]["dead_lettered_by_broker"] == []
    assert "not valid JSON" in dead[malformed_id]["reason"]
    assert dead[malformed_id]["failed_at"]

    parked = {m["message_id"]: m for m in cli_lines(broker_url, "parked", "list", SPEC.name)}
    assert set(parked) == {failing["id"]}
    assert parked[failing["id"]]["type"] == EVENT
    assert parked[failing["id"]]["attempts"] == 2
    assert f"cannot handle {bad_subject} yet" in parked[failing["id"]]["reason"]

    [shown] = cli_lines_json(broker_url, "parked", "show", SPEC.name, failing["id"])
    assert shown["body"] == failing
    assert shown["headers"]["x-ocop-queue"] == SPEC.name

    # Nothing is consumed by listing or showing.
    assert depth(broker_url, SPEC.parking) == 1 and depth(broker_url, SPEC.dlq) >= 1

    handler.failing.clear()
    moved = cli_lines(broker_url, "parked", "redrive", SPEC.name, "--id", failing["id"])
    assert moved == [{"from": SPEC.parking, "to": SPEC.name, "moved": 1}]
    assert depth(broker_url, SPEC.parking) == 0

    with Running(db, handler, broker_url):
        wait_for(lambda: db.seen(bad_subject) == 1, message="the re-driven event to be handled")
        wait_for(lambda: depth(broker_url, SPEC.name) == 0, message="the main queue to be drained")
    assert db.seen(bad_subject) == 1
    assert handler.calls.count(bad_subject) == tries + 1  # once after the re-drive
    assert cli_lines(broker_url, "parked", "list", SPEC.name) == []
    # The refused message stays where it is until someone decides about it.
    assert malformed_id in {m["message_id"] for m in cli_lines(broker_url, "dlq", "list", SPEC.name)}


def cli_lines_json(url: str, *args: str) -> list[dict]:
    """``show`` prints indented JSON documents, one after the other."""
    done = cli(url, *args)
    assert done.returncode == 0, done.stderr
    decoder, text, out = json.JSONDecoder(), done.stdout.strip(), []
    while text:
        value, end = decoder.raw_decode(text)
        out.append(value)
        text = text[end:].strip()
    return out


def test_unknown_queue_is_refused_with_the_valid_names(broker_url):
    done = cli(broker_url, "parked", "list", "events.nope")
    assert done.returncode == 2
    assert "unknown queue 'events.nope'" in done.stderr
    for name in ("events.registry-feed", "events.responses", "notifications.main", "registry.commands"):
        assert name in done.stderr


def test_show_and_redrive_of_a_missing_message_fail(broker_url):
    missing = str(uuid.uuid4())
    assert cli(broker_url, "dlq", "show", SPEC.name, missing).returncode == 1
    done = cli(broker_url, "parked", "redrive", SPEC.name, "--id", missing)
    assert done.returncode == 1 and "no message" in done.stderr


@pytest.mark.skipif(not is_amqp(os.environ.get("OCOP_BROKER_URL", "")), reason="policies exist on RabbitMQ only")
def test_setup_declares_and_applies_policies(broker_url):
    if not broker_url.endswith("/" + TEST_VHOST):
        pytest.skip("needs rabbitmqctl and a local broker (the test's own vhost)")
    for _ in range(2):  # idempotent
        done = cli(broker_url, "setup")
        assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        ["rabbitmqctl", "list_policies", "-p", TEST_VHOST, "-q", "--formatter", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    policies = {p["name"]: p for p in json.loads(listed.stdout)}
    for spec in QUEUES:
        policy = policies[f"ocop-safety-net-{spec.name}"]
        definition = policy["definition"]
        definition = json.loads(definition) if isinstance(definition, str) else definition
        assert definition == {
            "dead-letter-exchange": "ocop.dead-letter",
            "dead-letter-routing-key": spec.name,
            "delivery-limit": DELIVERY_LIMIT,
        }
        assert policy["apply-to"] == "queues"
