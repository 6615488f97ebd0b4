"""Topology as code: exchanges, queues and bindings, declared idempotently by every process.

One topic exchange carries every event; the routing key is the event type
(e.g. ``registry.certification.granted``). Each consuming service and handler group has one
durable queue, so replicas of a service compete for messages while every service gets its
own copy. Every queue has two siblings bound to the ``ocop.dead-letter`` topic exchange:
``<queue>.dlq`` (routing key ``<queue>``) for messages the code refuses (undecodable,
contract-violating, unknown, untrusted) and for those the broker dead-letters, and
``<queue>.parking`` (routing key ``<queue>.parking``) for messages that kept failing after
retries. No service publishes to the default exchange: a service user may write to
``ocop.dead-letter`` only with routing keys of its own queues (a topic permission), so it can
fill its own side queues and nobody else's. On RabbitMQ the queues are quorum queues; their
dead-letter exchange and delivery limit (the safety net for a message that crashes its
consumer) are set by policy (deploy/rabbitmq/definitions.json and ``python -m shared.bus.cli
setup``), never by queue arguments, which cannot change later.

The exchanges are created by the definitions file or ``setup`` (an operator's user); a service
user has no configure right on them, so on RabbitMQ a process declares an exchange passively
and creates it only when it is missing (and its user may). Replies to an integration's
commands go to ``ocop.replies`` with the routing key ``reply.<integration's broker user>.<reply
type>``: each integration may bind only its own ``reply.<user>.#`` (a topic permission). The
registry's replays (services/registry/replay.py) go to ``ocop.replay``, which only the events
read model's queue is bound to.
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue

EVENTS_EXCHANGE = "ocop.events"
COMMANDS_EXCHANGE = "ocop.commands"
DEAD_LETTER_EXCHANGE = "ocop.dead-letter"  # dead-letter and parking traffic, the code's and the broker's
REPLIES_EXCHANGE = "ocop.replies"  # replies to an integration's commands: reply.<user>.<type>
REPLAY_EXCHANGE = "ocop.replay"  # the registry's replays, to the events read model's queue only


@dataclass(frozen=True)
class QueueSpec:
    name: str
    service: str
    exchange: str
    bindings: tuple[str, ...]
    also: tuple[tuple[str, str], ...] = ()  # (exchange, routing key) bindings on other exchanges

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def parking(self) -> str:
        return f"{self.name}.parking"

    # Routing keys on the dead-letter exchange (each starts with the service's name: its topic permission).
    @property
    def dlq_key(self) -> str:
        return self.name

    @property
    def parking_key(self) -> str:
        return self.parking


# The whole topology in one table: who listens to what.
QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("events.registry-feed", "events", EVENTS_EXCHANGE, ("registry.#",), ((REPLAY_EXCHANGE, "registry.#"),)),
    QueueSpec("events.responses", "events", EVENTS_EXCHANGE, ("notifications.invitation.answered",)),
    QueueSpec(
        "notifications.main",
        "notifications",
        EVENTS_EXCHANGE,
        (
            "events.invitation.#",
            "events.fair.#",
            "events.waitlist.promoted",
            "registry.producer.#",
            "registry.certification.expiring",
            "registry.certification.expired",
            "registry.token.revoked",
        ),
    ),
    QueueSpec("registry.commands", "registry", COMMANDS_EXCHANGE, ("registry.#",)),
)


def queue_spec(name: str) -> QueueSpec:
    for spec in QUEUES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def _queue_args(amqp: bool) -> dict:
    return {"x-queue-type": "quorum"} if amqp else {}


def exchanges() -> list[Exchange]:
    return [
        Exchange(EVENTS_EXCHANGE, type="topic", durable=True),
        Exchange(COMMANDS_EXCHANGE, type="topic", durable=True),
        Exchange(DEAD_LETTER_EXCHANGE, type="topic", durable=True),
        Exchange(REPLIES_EXCHANGE, type="topic", durable=True),
        Exchange(REPLAY_EXCHANGE, type="topic", durable=True),
    ]


def kombu_queues(spec: QueueSpec, amqp: bool) -> list[Queue]:
    """The main queue with its bindings, plus its dead-letter and parking queues.

    On RabbitMQ declaring a queue never declares its exchanges (kombu would, actively, which a
    service user may not): ``declare`` has made sure they exist."""
    ex = Exchange(spec.exchange, type="topic", durable=True, no_declare=amqp)
    args = _queue_args(amqp)
    also = [_binding(Exchange(name, type="topic", durable=True, no_declare=amqp), key) for name, key in spec.also]
    main = Queue(
        spec.name, bindings=[_binding(ex, key) for key in spec.bindings] + also, durable=True, queue_arguments=args
    )
    dead = Exchange(DEAD_LETTER_EXCHANGE, type="topic", durable=True, no_declare=amqp)
    dlq = Queue(spec.dlq, exchange=dead, routing_key=spec.dlq_key, durable=True, queue_arguments=args)
    parking = Queue(spec.parking, exchange=dead, routing_key=spec.parking_key, durable=True, queue_arguments=args)
    return [main, dlq, parking]


def _binding(exchange: Exchange, key: str):
    from kombu import binding

    return binding(exchange, routing_key=key)


def declare(connection, amqp: bool, services: tuple[str, ...] | None = None) -> None:
    """Declare exchanges and (optionally only some services') queues. Idempotent."""
    channel = connection.default_channel
    for ex in exchanges():
        if not amqp or not _exists(connection, ex):
            ex(channel).declare()  # RabbitMQ: refused unless the user may configure exchanges
    for spec in QUEUES:
        if services is None or spec.service in services:
            for q in kombu_queues(spec, amqp):
                q(channel).declare()


def _exists(connection, exchange: Exchange) -> bool:
    """A passive declare on a channel of its own (a missing exchange closes the channel)."""
    from amqp.exceptions import NotFound

    channel = connection.channel()
    try:
        exchange(channel).declare(passive=True)
        return True
    except NotFound:
        return False
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - already closed by the broker
            pass
