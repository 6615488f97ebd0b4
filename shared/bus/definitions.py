"""What the RabbitMQ broker should hold: deploy/rabbitmq/definitions.json, generated from the topology.

One user per service, an example integration user and the operator (``admin``). A service user
configures, reads and writes only its own ``<service>.*`` queues; it publishes its own event
types to ``ocop.events`` and refused or parked messages to ``ocop.dead-letter`` with its own
queues' routing keys (topic permissions), never to the default exchange (which would let it put
anything into any queue by name). It cannot configure the shared exchanges: the definitions file
(or ``python -m shared.bus.cli setup`` as the operator) creates them, services declare them
passively. The registry publishes replies to integrations' commands on ``ocop.replies``
(``reply.<user>.<type>``), and each integration may bind only its own replies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets

from . import topology

VHOST = "ocop"
# The broker's safety net for a message that crashes its consumer every time. Well above what a
# crash loop can do to an innocent message: after a restart a consumer takes one message, then
# doubles its prefetch after each clean batch, and handles a redelivered message on its own, so a
# crash loop redelivers the message at the head of the queue and little else. The consumer
# dead-letters a message itself, with a reason, once it was delivered POISON_DELIVERIES times
# (shared/bus/consumer.py); the broker's limit is for a consumer that crashes before it can tell.
DELIVERY_LIMIT = 50
SERVICE_USERS = ("registry", "events", "notifications")
INTEGRATION_USERS = ("integration-example",)
INTEGRATION_USER = INTEGRATION_USERS[0]
ADMIN_USER = "admin"
RABBIT_VERSION = "3.10.8"
# Events an outside system may bind its ext.* queues to: products, certifications and fairs.
# Not registry.producer.* (contact details), invitations or notifications (about one producer).
PUBLIC_EVENTS = r"^(registry\.(product|certification)\.|events\.fair\.)"
# The service that answers integrations' commands, on the replies exchange.
REPLYING_SERVICE = "registry"


def policy_name(queue: str) -> str:
    return f"ocop-safety-net-{queue}"


def policy_definition(queue: str) -> dict:
    """A message that keeps crashing its consumer goes to ``<queue>.dlq`` via the broker's DLX."""
    return {
        "dead-letter-exchange": topology.DEAD_LETTER_EXCHANGE,
        "dead-letter-routing-key": queue,
        "delivery-limit": DELIVERY_LIMIT,
    }


def policies(vhost: str) -> list[dict]:
    return [
        {
            "vhost": vhost,
            "name": policy_name(spec.name),
            "pattern": f"^{re.escape(spec.name)}$",
            "apply-to": "queues",
            "priority": 10,
            "definition": policy_definition(spec.name),
        }
        for spec in topology.QUEUES
    ]


def _alternation(names) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names)))


def reply_prefix(user: str) -> str:
    """The routing-key prefix of one integration's replies (``reply.<user>.``)."""
    return f"reply.{user}."


def bound_exchanges(service: str) -> set[str]:
    """The exchanges a service's queues are bound to (binding needs read on them)."""
    out = {topology.DEAD_LETTER_EXCHANGE}
    for spec in topology.QUEUES:
        if spec.service == service:
            out.add(spec.exchange)
            out.update(name for name, _ in spec.also)
    return out


def permissions_for(user: str) -> dict:
    """Permission regexes (configure, write, read) of one user on the ``ocop`` vhost.

    A service configures only its own queues, all named ``<service>.*`` (the exchanges exist
    already: it declares them passively); writes to its own queues (needed to bind them), to
    ocop.events (its events) and to ocop.dead-letter (its refused and parked messages; the topic
    permissions keep both to its own routing keys); reads its own queues and the exchanges they
    are bound to. Nobody but the operator writes to the default exchange (``amq.default``).
    """
    if user in SERVICE_USERS:
        own = rf"{re.escape(user)}\..+"
        bound = bound_exchanges(user)
        writes = [topology.EVENTS_EXCHANGE, topology.DEAD_LETTER_EXCHANGE]
        if user == REPLYING_SERVICE:
            writes += [topology.REPLIES_EXCHANGE, topology.REPLAY_EXCHANGE]
        return {
            "configure": f"^{own}$",
            "write": f"^({own}|{_alternation(writes)})$",
            "read": f"^({own}|{_alternation(bound)})$",
        }
    if user in INTEGRATION_USERS:  # sends commands; consumes its own ext.* queues (examples/consumer.py)
        return {
            "configure": r"^ext\..+$",
            "write": rf"^(ext\..+|{re.escape(topology.COMMANDS_EXCHANGE)})$",
            "read": rf"^(ext\..+|{_alternation([topology.EVENTS_EXCHANGE, topology.REPLIES_EXCHANGE])})$",
        }
    if user == ADMIN_USER:
        return {"configure": ".*", "write": ".*", "read": ".*"}
    raise KeyError(user)


def topic_permissions_for(user: str) -> list[dict]:
    """Routing keys a user may publish (write) and bind (read) on the topic exchanges."""
    if user in SERVICE_USERS:
        own = rf"^{re.escape(user)}\."
        out = [
            {"exchange": topology.EVENTS_EXCHANGE, "write": own, "read": ".*"},
            {"exchange": topology.DEAD_LETTER_EXCHANGE, "write": own, "read": own},
        ]
        if user == REPLYING_SERVICE:
            out += [
                {"exchange": topology.REPLIES_EXCHANGE, "write": r"^reply\.", "read": "^$"},
                {"exchange": topology.REPLAY_EXCHANGE, "write": own, "read": "^$"},
            ]
        return out
    if user in INTEGRATION_USERS:
        keys = {
            key.split(".")[0]
            for spec in topology.QUEUES
            if spec.exchange == topology.COMMANDS_EXCHANGE
            for key in spec.bindings
        }
        return [
            {"exchange": topology.COMMANDS_EXCHANGE, "write": rf"^({_alternation(keys)})\.", "read": ".*"},
            {"exchange": topology.EVENTS_EXCHANGE, "write": "^$", "read": PUBLIC_EVENTS},
            {"exchange": topology.REPLIES_EXCHANGE, "write": "^$", "read": f"^{re.escape(reply_prefix(user))}"},
        ]
    return []


def dev_password(user: str) -> str:
    return f"{user}-dev-password"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def password_matches(encoded: str, password: str) -> bool:
    raw = base64.b64decode(encoded)
    return len(raw) == 36 and password_hash(password, raw[:4]) == encoded


def build_definitions(previous: dict | None = None) -> dict:
    """The definitions file's content. Password hashes of ``previous`` are kept while they
    still match the development passwords, so regenerating the file changes nothing."""
    old_hashes = {u["name"]: u.get("password_hash", "") for u in (previous or {}).get("users", [])}
    users, permissions, topic_permissions = [], [], []
    for name in (*SERVICE_USERS, *INTEGRATION_USERS, ADMIN_USER):
        old = old_hashes.get(name, "")
        hashed = old if old and password_matches(old, dev_password(name)) else password_hash(dev_password(name))
        users.append(
            {
                "name": name,
                "password_hash": hashed,
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"] if name == ADMIN_USER else [],
                "limits": {},
            }
        )
        permissions.append({"user": name, "vhost": VHOST, **permissions_for(name)})
        topic_permissions += [{"user": name, "vhost": VHOST, **t} for t in topic_permissions_for(name)]
    queue_args = {"x-queue-type": "quorum"}  # exactly what topology.kombu_queues declares on RabbitMQ
    queues, bindings = [], []
    for spec in topology.QUEUES:
        for name in (spec.name, spec.dlq, spec.parking):
            queues.append(
                {"name": name, "vhost": VHOST, "durable": True, "auto_delete": False, "arguments": dict(queue_args)}
            )
        for exchange, key in [(spec.exchange, key) for key in spec.bindings] + list(spec.also):
            bindings.append(
                {
                    "source": exchange,
                    "vhost": VHOST,
                    "destination": spec.name,
                    "destination_type": "queue",
                    "routing_key": key,
                    "arguments": {},
                }
            )
        for queue, key in ((spec.dlq, spec.dlq_key), (spec.parking, spec.parking_key)):
            bindings.append(
                {
                    "source": topology.DEAD_LETTER_EXCHANGE,
                    "vhost": VHOST,
                    "destination": queue,
                    "destination_type": "queue",
                    "routing_key": key,
                    "arguments": {},
                }
            )
    return {
        "_comment": [
            "Generated from shared/bus/topology.py by `python -m shared.bus.cli definitions --write`;"
            " tests/unit/test_definitions.py checks it against the topology.",
            "Users have DEVELOPMENT passwords (<user>-dev-password, e.g. registry-dev-password)."
            " Production MUST replace every password_hash (rabbitmqctl change_password <user> <secret>,"
            " or regenerate the hashes) before the broker is reachable by anyone else.",
            "Permissions: each service configures/reads only its own <service>.* queues (the exchanges are"
            " created here; services declare them passively), publishes its own events to ocop.events"
            " (topic permission ^<service>\\.) and its refused/parked messages to ocop.dead-letter with its"
            " own queues' routing keys; no service may write to the default exchange. The registry answers"
            " commands on ocop.replies (reply.<integration user>.<type>) and replays its state to the events"
            " read model through ocop.replay. integration-example publishes"
            " registry.* commands to ocop.commands, declares and reads queues named ext.*, may bind them to"
            " ocop.events only for the public events and to ocop.replies only for reply.integration-example.#"
            " (topic read permissions); admin is the operator.",
            f"Policies: one per main queue, dead-lettering to {topology.DEAD_LETTER_EXCHANGE} after"
            f" {DELIVERY_LIMIT} deliveries (the safety net; the code dead-letters refused messages, and"
            " messages that keep crashing their consumer, itself, with a reason).",
        ],
        "rabbit_version": RABBIT_VERSION,
        "rabbitmq_version": RABBIT_VERSION,
        "users": users,
        "vhosts": [{"name": VHOST, "limits": [], "metadata": {"description": "OCOP platform", "tags": []}}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "parameters": [],
        "global_parameters": [],
        "policies": policies(VHOST),
        "queues": queues,
        "exchanges": [
            {
                "name": ex.name,
                "vhost": VHOST,
                "type": ex.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for ex in topology.exchanges()
        ],
        "bindings": bindings,
    }


def render(definitions: dict) -> str:
    return json.dumps(definitions, indent=2, ensure_ascii=False) + "\n"


def for_vhost(definitions: dict, vhost: str) -> dict:
    """The same definitions for another vhost (tests import them into a vhost of their own)."""
    out = json.loads(json.dumps(definitions))
    for section in ("vhosts",):
        for item in out[section]:
            item["name"] = vhost
    for section in ("permissions", "topic_permissions", "policies", "queues", "exchanges", "bindings"):
        for item in out[section]:
            item["vhost"] = vhost
    return out
