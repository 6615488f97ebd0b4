"""A minimal outside service that listens to the OCOP platform's events.

It needs nothing from this repository: only an AMQP client (pika here) and the message
contracts in docs/asyncapi.yaml. It declares its own durable queue ``ext.<name>``, binds it
to the ``ocop.events`` topic exchange for the routing keys it cares about, and acknowledges
each message after handling it. Handling must be idempotent: deduplicate on the envelope's
``id`` (messages are delivered at least once) and drop updates whose ``subject_version`` is
not newer than the one you hold.

    python examples/consumer.py --url amqp://guest:guest@127.0.0.1:5672/ \
        --keys registry.certification.granted events.fair.published

``--replies USER`` also binds the queue to the ``ocop.replies`` exchange for ``reply.USER.#``:
the answers (``registry.command.accepted`` / ``registry.command.rejected``) to the commands this
integration sent as broker user USER, each with the command's message id as its AMQP
``correlation_id``. Publish commands with the AMQP ``user_id`` property set to your broker user
(RabbitMQ checks it): that is how the registry knows whom to answer.

Stop with Ctrl+C. ``--max N`` stops after N messages (used by its test).
"""

from __future__ import annotations

import argparse
import json
import sys

import pika

EXCHANGE = "ocop.events"
REPLIES = "ocop.replies"


def handle(envelope: dict, seen: dict[str, int]) -> str | None:
    """Return a line to print, or None for a duplicate or stale message."""
    subject, version = envelope["subject"], envelope["subject_version"]
    if seen.get(subject, -1) >= version:
        return None
    seen[subject] = version
    data = envelope["data"]
    if envelope["type"] == "registry.certification.granted":
        return f"certified: {data['product_name']} ({data['stars']}★) of {data['producer_name']}, {data['province']}"
    if envelope["type"] == "events.fair.published":
        return f"fair published: {data['name']} at {data['venue']}, {data['starts_on']}–{data['ends_on']}"
    if envelope["type"] in ("registry.command.accepted", "registry.command.rejected"):
        verdict = "accepted" if envelope["type"].endswith("accepted") else f"rejected: {data['errors']}"
        return f"command {data['command_id']} {verdict}"
    return f"{envelope['type']} about {subject}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--name", default="example")
    parser.add_argument("--keys", nargs="+", default=["registry.certification.granted", "events.fair.published"])
    parser.add_argument("--replies", metavar="USER", help="also receive the replies to USER's commands")
    parser.add_argument("--max", type=int, default=0, help="stop after this many messages (0: never)")
    args = parser.parse_args(argv)

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True, passive=True)
    queue = f"ext.{args.name}"
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    for key in args.keys:
        channel.queue_bind(queue, EXCHANGE, routing_key=key)
    if args.replies:  # the broker lets each integration bind its own replies only
        channel.queue_bind(queue, REPLIES, routing_key=f"reply.{args.replies}.#")
    channel.basic_qos(prefetch_count=50)
    seen: dict[str, int] = {}
    handled = 0
    for method, properties, body in channel.consume(queue, inactivity_timeout=None):
        try:
            envelope = json.loads(body)
            line = handle(envelope, seen)
        except (ValueError, KeyError) as exc:  # not our contract: refuse it, don't requeue forever
            print(f"refused message {properties.message_id}: {exc}", file=sys.stderr)
            channel.basic_nack(method.delivery_tag, requeue=False)
            continue
        if line:
            print(line, flush=True)
        channel.basic_ack(method.delivery_tag)
        handled += 1
        if args.max and handled >= args.max:
            break
    channel.cancel()
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
