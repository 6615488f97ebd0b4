"""deploy/rabbitmq/definitions.json against the topology in code (no broker: it reads files).

RabbitMQ matches permission regexes anywhere in a resource name (unanchored, PCRE); the
patterns here only use escapes that Python's ``re`` reads the same way, so ``re.search``
stands in for the broker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from shared.bus import cli, definitions, topology
from shared.contracts import CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
SERVICES = ("registry", "events", "notifications")
OTHER_USERS = ("integration-example", "admin")


@pytest.fixture(scope="module")
def defs() -> dict:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


def _queues_of(service: str) -> list[str]:
    return [name for spec in topology.QUEUES if spec.service == service for name in (spec.name, spec.dlq, spec.parking)]


def _all_queues() -> list[str]:
    return [name for spec in topology.QUEUES for name in (spec.name, spec.dlq, spec.parking)]


def _permissions(defs: dict, user: str) -> dict:
    [perm] = [p for p in defs["permissions"] if p["user"] == user and p["vhost"] == "ocop"]
    return perm


def test_file_is_generated_from_the_topology(defs):
    # Regenerating keeps the (still valid) password hashes, so any difference is real drift.
    assert cli.render(cli.build_definitions(defs)) == DEFINITIONS.read_text(encoding="utf-8"), (
        "run: python -m shared.bus.cli definitions --write"
    )


def test_vhost_and_exchanges(defs):
    assert [v["name"] for v in defs["vhosts"]] == ["ocop"]
    exchanges = {(e["name"], e["vhost"]): e for e in defs["exchanges"]}
    for name in (topology.EVENTS_EXCHANGE, topology.COMMANDS_EXCHANGE, topology.DEAD_LETTER_EXCHANGE):
        ex = exchanges[(name, "ocop")]
        assert ex["type"] == "topic" and ex["durable"] is True and ex["auto_delete"] is False


@pytest.mark.parametrize("queue", _all_queues())
def test_every_queue_is_a_durable_quorum_queue(defs, queue):
    [q] = [q for q in defs["queues"] if q["name"] == queue and q["vhost"] == "ocop"]
    assert q["durable"] is True and q["auto_delete"] is False
    # Exactly the arguments the services declare with, or their declare would be refused.
    assert q["arguments"] == {"x-queue-type": "quorum"}


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda s: s.name)
def test_each_main_queue_has_exactly_one_safety_net_policy(defs, spec):
    matching = [p for p in defs["policies"] if p["vhost"] == "ocop" and re.search(p["pattern"], spec.name)]
    assert len(matching) == 1, matching
    policy = matching[0]
    assert policy["apply-to"] == "queues"
    assert policy["definition"] == {
        "dead-letter-exchange": "ocop.dead-letter",
        "dead-letter-routing-key": spec.name,
        "delivery-limit": definitions.DELIVERY_LIMIT,
    }
    # Well above what a crash loop does to an innocent message (tests/faults/test_broker_trust.py
    # kills a worker 14 times), and above the count at which the consumer dead-letters it itself.
    from shared.bus.consumer import POISON_DELIVERIES

    assert definitions.DELIVERY_LIMIT > POISON_DELIVERIES >= 14
    # The policy is for this queue only: not its .dlq/.parking siblings, not the other queues.
    for other in _all_queues():
        if other != spec.name:
            assert not re.search(policy["pattern"], other), (policy["pattern"], other)


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda s: s.name)
def test_every_binding_of_the_topology_exists(defs, spec):
    bindings = {
        (b["source"], b["destination"], b["destination_type"], b["routing_key"])
        for b in defs["bindings"]
        if b["vhost"] == "ocop"
    }
    for key in spec.bindings:
        assert (spec.exchange, spec.name, "queue", key) in bindings
    for exchange, key in spec.also:
        assert (exchange, spec.name, "queue", key) in bindings
    # The broker's dead-lettering (policy) and the consumers reach <queue>.dlq through ocop.dead-letter,
    # and <queue>.parking too (never through the default exchange).
    assert (topology.DEAD_LETTER_EXCHANGE, spec.dlq, "queue", spec.name) in bindings
    assert (topology.DEAD_LETTER_EXCHANGE, spec.parking, "queue", spec.parking) in bindings


def test_bindings_are_only_those_of_the_topology(defs):
    expected = {(spec.exchange, spec.name, key) for spec in topology.QUEUES for key in spec.bindings}
    expected |= {(exchange, spec.name, key) for spec in topology.QUEUES for exchange, key in spec.also}
    expected |= {(topology.DEAD_LETTER_EXCHANGE, spec.dlq, spec.name) for spec in topology.QUEUES}
    expected |= {(topology.DEAD_LETTER_EXCHANGE, spec.parking, spec.parking) for spec in topology.QUEUES}
    # The registry's replays reach the events read model's queue only (never notifications, never outside).
    assert {(d, k) for s, d, k in expected if s == topology.REPLAY_EXCHANGE} == {("events.registry-feed", "registry.#")}
    assert {(b["source"], b["destination"], b["routing_key"]) for b in defs["bindings"]} == expected


def test_queue_names_start_with_their_service():
    # The per-service permissions rely on it.
    for spec in topology.QUEUES:
        assert spec.name.startswith(spec.service + "."), spec


@pytest.mark.parametrize("service", SERVICES)
def test_service_user_may_use_its_own_queues_only(defs, service):
    perm = _permissions(defs, service)
    for queue in _queues_of(service):
        for kind in ("configure", "write", "read"):
            assert re.search(perm[kind], queue), (service, kind, queue)
    for other in SERVICES:
        if other == service:
            continue
        for queue in _queues_of(other):
            for kind in ("configure", "write", "read"):
                assert not re.search(perm[kind], queue), (service, kind, queue)
    for queue in ("ext.partner", "amq.gen-abc", "ocop.events.copy"):
        assert not re.search(perm["read"], queue), (service, queue)


@pytest.mark.parametrize("service", SERVICES)
def test_service_user_exchanges(defs, service):
    perm = _permissions(defs, service)
    # It publishes its events, and its refused and parked messages through the dead-letter exchange;
    # never through the default exchange, which would reach any queue by its name.
    assert re.search(perm["write"], topology.EVENTS_EXCHANGE)
    assert re.search(perm["write"], topology.DEAD_LETTER_EXCHANGE)
    assert not re.search(perm["write"], "amq.default")
    assert not re.search(perm["write"], topology.COMMANDS_EXCHANGE)
    assert bool(re.search(perm["write"], topology.REPLIES_EXCHANGE)) == (service == "registry")
    # Binding needs read on the source exchange: the ones its queues are bound to, nothing else.
    sources = {spec.exchange for spec in topology.QUEUES if spec.service == service} | {"ocop.dead-letter"}
    sources |= {ex for spec in topology.QUEUES if spec.service == service for ex, _ in spec.also}
    assert bool(re.search(perm["write"], topology.REPLAY_EXCHANGE)) == (service == "registry")
    for ex in (
        topology.EVENTS_EXCHANGE,
        topology.COMMANDS_EXCHANGE,
        topology.DEAD_LETTER_EXCHANGE,
        topology.REPLAY_EXCHANGE,
        topology.REPLIES_EXCHANGE,
    ):
        assert bool(re.search(perm["read"], ex)) == (ex in sources), (service, ex)
    # The shared exchanges are created by the definitions (or setup); services declare them passively.
    for ex in topology.exchanges():
        assert not re.search(perm["configure"], ex.name), (service, ex.name)
    for ex in ("amq.default", "amq.topic"):
        assert not re.search(perm["configure"], ex)


@pytest.mark.parametrize("service", SERVICES)
def test_service_dead_letters_only_into_its_own_side_queues(defs, service):
    [topic] = [t for t in defs["topic_permissions"] if t["user"] == service and t["exchange"] == "ocop.dead-letter"]
    for spec in topology.QUEUES:
        for key in (spec.dlq_key, spec.parking_key):
            assert bool(re.search(topic["write"], key)) == (spec.service == service), (service, key)
            assert bool(re.search(topic["read"], key)) == (spec.service == service), (service, key)


@pytest.mark.parametrize("service", SERVICES)
def test_service_may_publish_only_its_own_event_types(defs, service):
    [topic] = [t for t in defs["topic_permissions"] if t["user"] == service and t["exchange"] == "ocop.events"]
    for contract in CONTRACTS.values():
        if contract.source == "external":
            continue  # commands travel on ocop.commands, not on the events exchange
        assert bool(re.search(topic["write"], contract.routing_key)) == (contract.source == service), contract.type


def test_integration_example_user(defs):
    perm = _permissions(defs, "integration-example")
    assert re.search(perm["write"], topology.COMMANDS_EXCHANGE)
    assert not re.search(perm["write"], topology.EVENTS_EXCHANGE)
    for kind in ("configure", "write", "read"):
        assert re.search(perm[kind], "ext.partner")
        for queue in _all_queues():
            assert not re.search(perm[kind], queue), (kind, queue)
    topics = {t["exchange"]: t for t in defs["topic_permissions"] if t["user"] == "integration-example"}
    assert re.search(topics["ocop.commands"]["write"], "registry.certification.decided")
    assert not re.search(topics["ocop.commands"]["write"], "events.fair.published")
    # Its ext.* queues may follow products, certifications and fairs, not personal data.
    public = topics["ocop.events"]["read"]
    assert re.search(public, "registry.certification.granted") and re.search(public, "events.fair.published")
    for key in ("registry.producer.registered", "registry.#", "events.invitation.issued", "notifications.#", "#"):
        assert not re.search(public, key), key
    # Its replies: it may bind reply.integration-example.# on ocop.replies, nobody else's, nothing else.
    replies = topics["ocop.replies"]
    assert re.search(perm["read"], topology.REPLIES_EXCHANGE)
    assert not re.search(perm["write"], topology.REPLIES_EXCHANGE)
    assert re.search(replies["read"], "reply.integration-example.#")
    assert re.search(replies["read"], "reply.integration-example.registry.command.rejected")
    for key in ("reply.#", "reply.*.#", "reply.integration-example2.#", "reply.other.registry.command.accepted", "#"):
        assert not re.search(replies["read"], key), key
    assert replies["write"] == "^$"
    [registry] = [t for t in defs["topic_permissions"] if t["user"] == "registry" and t["exchange"] == "ocop.replies"]
    assert re.search(registry["write"], "reply.integration-example.registry.command.accepted")


def test_admin_is_the_only_administrator(defs):
    tags = {u["name"]: u["tags"] for u in defs["users"]}
    assert set(tags) == {*SERVICES, *OTHER_USERS}
    assert [name for name, t in tags.items() if "administrator" in t] == ["admin"]


@pytest.mark.parametrize("user", [*SERVICES, *OTHER_USERS])
def test_password_hashes_are_salted_sha256_of_the_dev_passwords(defs, user):
    [u] = [u for u in defs["users"] if u["name"] == user]
    assert u["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    raw = base64.b64decode(u["password_hash"])
    salt, digest = raw[:4], raw[4:]
    assert len(raw) == 36
    assert hashlib.sha256(salt + f"{user}-dev-password".encode()).digest() == digest


def test_salts_differ(defs):
    salts = [base64.b64decode(u["password_hash"])[:4] for u in defs["users"]]
    assert len(set(salts)) == len(salts)


def test_comment_says_production_must_replace_passwords(defs):
    comment = " ".join(defs["_comment"])
    assert "Production MUST replace" in comment and "dev-password" in comment


def test_rabbitmq_conf_loads_the_definitions():
    conf = (ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    settings = [line.split("=", 1) for line in conf.splitlines() if line.strip() and not line.startswith("#")]
    assert ["load_definitions", "/etc/rabbitmq/definitions.json"] in [[k.strip(), v.strip()] for k, v in settings]


def test_setup_policies_match_the_file(defs):
    assert cli.policies("ocop") == defs["policies"]
