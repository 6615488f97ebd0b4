"""Whom a consumer believes: the broker vouches for a message's sender, the envelope only claims one.

On RabbitMQ every publisher sets the AMQP ``user_id`` property to its connection's user, and the
broker refuses (channel error) a message whose ``user_id`` is not the user that published it. A
consumer accepts an event only when

- its ``source`` is the one its contract names (``registry.*`` events come from the registry,
  commands from ``external``), and the routing key it was published with is its type; and
- on RabbitMQ, its ``user_id`` is the broker user of that source service (``OCOP_BROKER_USERS``,
  ``service=user`` pairs, by default the users of deploy/rabbitmq/definitions.json), or an
  operator's (``OCOP_BROKER_OPERATORS``, default ``admin``: a re-driven message is published by
  the operator). A command (source ``external``) may come from any user that may write to
  ``ocop.commands``; its ``user_id`` names the integration its replies go to.

The embedded broker has no users: there only the first check applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .connection import is_amqp

SERVICES = ("registry", "events", "notifications")
EXTERNAL = "external"
# Integration users whose names can be a routing-key word (no dots, no wildcards).
_WORD = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def connection_user(url: str) -> str | None:
    """The broker user of a URL (what RabbitMQ will accept as ``user_id``); None on the embedded broker."""
    if not is_amqp(url):
        return None
    from kombu import Connection

    return Connection(url).userid or "guest"


@dataclass(frozen=True)
class Trust:
    users: dict[str, str] = field(default_factory=lambda: {s: s for s in SERVICES})
    operators: frozenset[str] = frozenset({"admin"})
    check_users: bool = True  # False on the embedded broker

    @classmethod
    def of(cls, settings) -> Trust:
        """What a service's settings believe (OCOP_BROKER_USERS, OCOP_BROKER_OPERATORS: shared.config)."""
        return cls(dict(settings.broker_users), frozenset(settings.broker_operators), is_amqp(settings.broker_url))

    def refusal(
        self, envelope: dict, contract_source: str, exchange: str | None, routing_key: str | None, user_id: str | None
    ) -> str | None:
        """None if the message may be believed; otherwise why not (the reason it is dead-lettered with)."""
        source, type_ = envelope["source"], envelope["type"]
        if source != contract_source:
            return f"untrusted: source {source!r} may not send {type_} (only {contract_source!r} does)"
        if exchange and routing_key is not None and routing_key != type_:
            return f"untrusted: {type_} arrived with routing key {routing_key!r}"
        if not self.check_users or (user_id is not None and user_id in self.operators):
            return None
        if source == EXTERNAL:  # whoever the broker lets write to ocop.commands (integrations, operators)
            return None
        expected = self.users.get(source)
        if user_id is None:
            return f"untrusted: no user_id, the broker did not vouch for the sender of a {source} event"
        if user_id != expected:
            return f"untrusted: sent by broker user {user_id!r}, but {source} events come from {expected!r}"
        return None

    def sender(self, envelope: dict, user_id: str | None) -> str | None:
        """The integration a command can be attributed to (its replies' routing key), or None."""
        if envelope.get("source", EXTERNAL) != EXTERNAL or not self.check_users:
            return None
        return attributable(user_id, self)


def attributable(user_id: str | None, trust: Trust) -> str | None:
    """``user_id`` as the name of an integration we can reply to (never a service or an operator)."""
    if not trust.check_users or not user_id or not _WORD.match(user_id):
        return None
    if user_id in trust.users.values() or user_id in trust.operators:
        return None
    return user_id


def reply_key(user: str, type_: str) -> str:
    return f"reply.{user}.{type_}"
