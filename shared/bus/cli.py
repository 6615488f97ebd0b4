"""Broker administration: ``python -m shared.bus.cli ...``.

    setup                              declare the topology; on RabbitMQ apply the safety-net policies
    definitions [--write | --check]    deploy/rabbitmq/definitions.json, generated from the topology
    dlq list QUEUE | parked list QUEUE           one JSON line per message
    dlq show QUEUE ID | parked show QUEUE ID     one message in full (headers and body)
    dlq redrive QUEUE [--id ID] | parked redrive QUEUE [--id ID]
                                       move messages back to QUEUE (confirmed before removal)

QUEUE is always a main queue of the topology (e.g. ``events.registry-feed``); the commands find
its ``.dlq`` and ``.parking`` siblings. The broker is ``OCOP_BROKER_URL`` (the embedded default
otherwise). The embedded broker belongs to one process: run these commands while the embedded
host is stopped, or it will see its in-flight messages delivered again (harmless, consumers are
idempotent, but noisy).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError

from . import admin, topology
from .connection import connect, is_amqp
from .definitions import build_definitions, policies, render  # noqa: F401  (the CLI's API, used by tests)

DEFINITIONS = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.json"


class CliError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


# ---- commands -------------------------------------------------------------------------------
def broker_url() -> str:
    from .. import config

    return config.load("registry").broker_url  # OCOP_BROKER_URL, else the embedded default's


def _main_queue(name: str) -> topology.QueueSpec:
    try:
        return topology.queue_spec(name)
    except KeyError:
        valid = ", ".join(spec.name for spec in topology.QUEUES)
        raise CliError(f"unknown queue {name!r}; give a main queue of the topology: {valid}", code=2) from None


def _vhost(url: str) -> str:
    from kombu import Connection

    return Connection(url).virtual_host or "/"


def cmd_setup(args) -> int:
    url = broker_url()
    amqp = is_amqp(url)
    conn = connect(url)
    try:
        conn.ensure_connection(max_retries=3)
        topology.declare(conn, amqp)
    finally:
        conn.release()
    names = ", ".join(f"{s.name} (+.dlq, .parking)" for s in topology.QUEUES)
    print(f"declared exchanges {', '.join(ex.name for ex in topology.exchanges())} and queues {names}")
    if not amqp:
        print(
            "embedded broker: no policies (no delivery limit or broker dead-lettering there; the consumers "
            "dead-letter and park messages themselves)"
        )
        return 0
    if args.skip_policies:
        print("policies skipped (--skip-policies)")
        return 0
    host = urlsplit(url).hostname
    if args.node is None and host not in ("127.0.0.1", "localhost", "::1", socket.gethostname()):
        print(
            f"note: rabbitmqctl applies the policies on its own node (use --node for the broker at {host})",
            file=sys.stderr,
        )
    return _apply_policies(_vhost(url), args.node)


def _apply_policies(vhost: str, node: str | None) -> int:
    ctl = shutil.which("rabbitmqctl")
    base = ["rabbitmqctl", *(["--node", node] if node else [])]
    wanted = policies(vhost)
    commands = {
        p["name"]: [
            *base,
            "set_policy",
            "-p",
            vhost,
            "--apply-to",
            "queues",
            "--priority",
            str(p["priority"]),
            p["name"],
            p["pattern"],
            json.dumps(p["definition"]),
        ]
        for p in wanted
    }
    if ctl is None:
        print(
            "rabbitmqctl is not on PATH: the safety-net policies were NOT applied. Either import "
            f"{DEFINITIONS} (rabbitmq.conf: load_definitions, or `rabbitmqctl import_definitions`), which "
            "applies them to the vhost 'ocop', or run on a broker node:",
            file=sys.stderr,
        )
        for command in commands.values():
            print("  " + " ".join(shlex.quote(c) for c in command), file=sys.stderr)
        return 0
    current = _current_policies(ctl, base, vhost)
    for p in wanted:
        if current.get(p["name"]) == (p["pattern"], p["apply-to"], p["priority"], p["definition"]):
            print(f"policy {p['name']} on vhost {vhost}: unchanged")
            continue
        command = commands[p["name"]]
        result = subprocess.run([ctl, *command[1:]], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise CliError(f"{shlex.join(command)} failed: {(result.stderr or result.stdout).strip()}")
        print(f"policy {p['name']} on vhost {vhost}: {json.dumps(p['definition'])}")
    return 0


def _current_policies(ctl: str, base: list[str], vhost: str) -> dict:
    """The vhost's policies as {name: (pattern, apply-to, priority, definition)}; {} if unknown."""
    result = subprocess.run(
        [ctl, *base[1:], "list_policies", "-p", vhost, "-q", "--formatter", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        listed = json.loads(result.stdout) if result.returncode == 0 else []
    except ValueError:
        return {}
    out = {}
    for p in listed:
        definition = p.get("definition")
        definition = json.loads(definition) if isinstance(definition, str) else definition
        out[p.get("name")] = (p.get("pattern"), p.get("apply-to"), p.get("priority"), definition)
    return out


def cmd_definitions(args) -> int:
    path = Path(args.path)
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    text = render(build_definitions(previous))
    if args.check:
        if previous is None or render(previous) != text:
            print(
                f"{path} is out of date with shared/bus/topology.py; run: python -m shared.bus.cli definitions --write",
                file=sys.stderr,
            )
            return 1
        print(f"{path} matches the topology")
        return 0
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    sys.stdout.write(text)
    return 0


def _source_queue(kind: str, spec: topology.QueueSpec) -> str:
    return spec.dlq if kind == "dlq" else spec.parking


def _with_connection(fn):
    url = broker_url()
    conn = connect(url)
    try:
        conn.ensure_connection(max_retries=2)
        return fn(conn)
    finally:
        conn.release()


def cmd_list(args) -> int:
    spec = _main_queue(args.queue)
    source = _source_queue(args.kind, spec)
    messages = _with_connection(lambda conn: admin.peek(conn, source, limit=args.limit))
    for m in messages:
        print(
            json.dumps(
                {
                    k: m[k]
                    for k in (
                        "message_id",
                        "type",
                        "reason",
                        "attempts",
                        "deliveries",
                        "sender",
                        "failed_at",
                        "dead_lettered_by_broker",
                    )
                },
                ensure_ascii=False,
                default=str,
            )
        )
    print(
        f"{len(messages)} message(s) in {source}" + (" (limit reached)" if len(messages) >= args.limit else ""),
        file=sys.stderr,
    )
    return 0


def cmd_show(args) -> int:
    spec = _main_queue(args.queue)
    source = _source_queue(args.kind, spec)
    messages = _with_connection(lambda conn: admin.peek(conn, source, limit=args.limit))
    found = [m for m in messages if m["message_id"] == args.message_id]
    if not found:
        raise CliError(f"no message {args.message_id!r} in {source} (looked at {len(messages)})")
    for m in found:
        print(json.dumps(m, ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_redrive(args) -> int:
    spec = _main_queue(args.queue)
    source = _source_queue(args.kind, spec)
    try:
        moved = _with_connection(lambda conn: admin.redrive(conn, source, spec.name, message_id=args.id))
    except LookupError as exc:  # the main queue is not declared
        raise CliError(str(exc)) from None
    print(json.dumps({"from": source, "to": spec.name, "moved": moved}))
    if args.id and moved == 0:
        raise CliError(f"no message {args.id!r} in {source}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m shared.bus.cli",
        description="OCOP broker administration",
        epilog="The broker is OCOP_BROKER_URL (amqp://... or embedded:///path).",
    )
    sub = p.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="declare exchanges and queues; apply the RabbitMQ policies")
    setup.add_argument("--node", help="RabbitMQ node for rabbitmqctl (default: its own default)")
    setup.add_argument("--skip-policies", action="store_true", help="only declare the topology")
    setup.set_defaults(func=cmd_setup)
    defs = sub.add_parser("definitions", help="print, --write or --check deploy/rabbitmq/definitions.json")
    mode = defs.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    defs.add_argument("--path", default=str(DEFINITIONS))
    defs.set_defaults(func=cmd_definitions)
    for kind, what in (("dlq", "dead-letter queue (<QUEUE>.dlq)"), ("parked", "parking-lot queue (<QUEUE>.parking)")):
        group = sub.add_parser(kind, help=f"the {what} of a main queue")
        actions = group.add_subparsers(dest="action", required=True)
        ls = actions.add_parser(
            "list",
            help="one JSON line per message: message_id, type, reason, attempts, "
            "deliveries, sender, failed_at, dead_lettered_by_broker (x-death)",
        )
        ls.add_argument("queue", metavar="QUEUE")
        ls.add_argument("--limit", type=int, default=1000)
        ls.set_defaults(func=cmd_list, kind=kind)
        show = actions.add_parser("show", help="one message in full (headers and body) as JSON")
        show.add_argument("queue", metavar="QUEUE")
        show.add_argument("message_id", metavar="MESSAGE_ID")
        show.add_argument("--limit", type=int, default=100_000, help="how many messages to look through")
        show.set_defaults(func=cmd_show, kind=kind)
        redrive = actions.add_parser("redrive", help="move messages back to QUEUE (all, or --id)")
        redrive.add_argument("queue", metavar="QUEUE")
        redrive.add_argument("--id", metavar="MESSAGE_ID")
        redrive.set_defaults(func=cmd_redrive, kind=kind)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except (OSError, KombuError, AMQPError) as exc:  # broker unreachable, access refused, ...
        print(f"error: broker: {exc!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
