"""Pipeline: certification events from the registry's outbox into the events service's read model.

N ``registry.certification.granted`` envelopes are written untimed into the registry's outbox
(through the registry's own ``Emitter``, so every one is a valid contract). The timed part runs
the real ``Relay`` (publisher confirms) and the real ``IdempotentConsumer`` with the events
service's handlers (in a thread of this process), and ends when the read model
(``certified_products``) holds N rows (a COUNT polled every 50 ms). The relay runs in a child
process by default, as it does deployed (the registry's worker relays, the events service's
worker consumes); ``--relay thread`` runs it in a thread beside the consumer instead, where the
two share one interpreter lock.

Baseline, same run, same broker: N copies of the same bodies published untimed to a plain
queue of the same type as the pipeline's (quorum on RabbitMQ), then consumed with a bare kombu
``Consumer`` and ``message.ack()`` at the same prefetch; measured before and after the pipeline
and averaged. stderr also gets the checks (inbox and read-model rows, dead-lettered and parked
messages: all must be right for a figure to be printed) and CPU microseconds per message of the
consumer and relay threads, which the machine's other load moves far less than the rates.

Everything goes to a bench-only topic exchange (``bench.events``) and bench-only queues
(``bench.registry-feed`` with its .dlq/.parking siblings, ``bench.raw-consume``), deleted at the
start and at the end; the real ``events.registry-feed`` never sees a bench message. Both
databases (``ocop_bench_registry``, ``ocop_bench_events`` next to ``BENCH_PG_URL``) are dropped
and migrated afresh.

    bench/run pipeline [--n 10000] [--prefetch 100] [--relay process|thread] [--profile FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
EXCHANGE = "bench.events"
FEED = "bench.registry-feed"
RAW = "bench.raw-consume"
EVENT = "registry.certification.granted"
REGIONS = (
    ("Vĩnh Long", "mekong_delta"),
    ("Hà Nội", "red_river_delta"),
    ("Lâm Đồng", "central_highlands"),
    ("Quảng Ninh", "northern_midlands"),
    ("Khánh Hòa", "south_central_coast"),
)
KINDS = ("cooperative", "enterprise", "household")


def _log(text: str) -> None:
    print(f"[pipeline] {text}", file=sys.stderr, flush=True)


def _figure(value: float, baseline: float) -> None:
    print(
        json.dumps(
            {
                "bench": "pipeline",
                "value": round(value),
                "unit": "msg/s",
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3) if baseline else None,
            }
        ),
        flush=True,
    )


# ---- databases -------------------------------------------------------------------------------
def fresh_database(base_url: str, name: str) -> str:
    """Drop and create database ``name`` next to ``base_url``; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def migrate(service: str, url: str) -> None:
    from shared.db import run_migrations

    run_migrations(ROOT / "services" / service, url)


def fill_outbox(session_factory, outbox_model, n: int) -> list[str]:
    """N valid certification.granted events in the registry's outbox; returns their product ids."""
    from shared.bus.outbox import Emitter

    emit = Emitter("registry", outbox_model, exchange=EXCHANGE)
    decided = date.today() - timedelta(days=30)
    products = []
    done = 0
    while done < n:
        with session_factory() as session, session.begin():
            for i in range(done, min(n, done + 2000)):
                product, producer = str(uuid.uuid4()), str(uuid.uuid4())
                province, region = REGIONS[i % len(REGIONS)]
                score = 50 + i % 50
                stars = 3 if score < 70 else 4 if score < 90 else 5
                emit(
                    session,
                    EVENT,
                    product,
                    2,
                    {
                        "certification_id": str(uuid.uuid4()),
                        "product_id": product,
                        "product_name": f"Sản phẩm OCOP thử {i}",
                        "group": 1 + i % 6,
                        "producer_id": producer,
                        "producer_name": f"Hợp tác xã thử {i}",
                        "producer_kind": KINDS[i % len(KINDS)],
                        "province": province,
                        "region": region,
                        "stars": stars,
                        "score": score,
                        "kind": "new",
                        "issued_by": f"Ủy ban nhân dân tỉnh {province}",
                        "decision_number": f"{i}/QĐ-UBND",
                        "decision_date": decided,
                        "valid_until": decided.replace(year=decided.year + 3),
                        "potential_five_star": stars == 5,
                    },
                )
                products.append(product)
        done = min(n, done + 2000)
    return products


def count(session_factory, model) -> int:
    from sqlalchemy import func, select

    with session_factory() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def unsent(session_factory, outbox_model) -> int:
    from sqlalchemy import func, select

    with session_factory() as session:
        return session.execute(select(func.count()).where(outbox_model.sent_at.is_(None))).scalar_one()


# ---- broker ----------------------------------------------------------------------------------
def feed_spec():
    from shared.bus.topology import QueueSpec

    return QueueSpec(FEED, "events", EXCHANGE, ("registry.#",))


def queue_arguments(amqp: bool) -> dict:
    # The same queue type as the service topology gives the pipeline's queue (quorum on RabbitMQ).
    from shared.bus.topology import _queue_args

    return _queue_args(amqp)


def clean_broker(conn) -> None:
    """Delete the bench queues (a fresh, empty start) and declare the bench exchange."""
    from kombu import Exchange

    spec = feed_spec()
    channel = conn.default_channel
    for name in (spec.name, spec.dlq, spec.parking, RAW):
        try:
            channel.queue_delete(queue=name)
        except Exception:  # noqa: BLE001 - not there yet (embedded transport may raise)
            channel = conn.default_channel
    Exchange(EXCHANGE, type="topic", durable=True)(channel).declare()


def raw_queue(conn, amqp: bool):
    from kombu import Exchange, Queue

    queue = Queue(
        RAW,
        Exchange(EXCHANGE, type="topic", durable=True),
        routing_key="bench.raw",
        durable=True,
        queue_arguments=queue_arguments(amqp),
    )
    bound = queue(conn.default_channel)
    bound.declare()
    return bound


def wait_for_depth(conn, queue: str, expected: int, timeout: float = 60.0) -> int:
    from shared.bus import admin
    from shared.bus.outbox import wait_until

    wait_until(lambda: admin.queue_size(conn, queue) >= expected, timeout=timeout, interval=0.1)
    return admin.queue_size(conn, queue)


def baseline(conn, broker_url: str, amqp: bool, bodies: list[tuple[str, str]], prefetch: int) -> float:
    """Publish the bodies untimed to the raw queue, then time a bare consume + ack of all of them."""
    from kombu import Consumer, Producer

    from shared.bus.connection import connect

    queue = raw_queue(conn, amqp)
    producer = Producer(conn.channel())
    for message_id, body in bodies:
        producer.publish(
            body,
            exchange="",
            routing_key=RAW,
            serializer=None,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message_id,
            type=EVENT,
            headers={"source": "registry"},
            retry=False,
        )
    depth = wait_for_depth(conn, RAW, len(bodies))
    if depth < len(bodies):
        raise RuntimeError(f"baseline queue holds {depth} of {len(bodies)} messages")

    consumer_conn = connect(broker_url)
    consumer_conn.ensure_connection(max_retries=3)
    got = 0

    def on_message(message):
        nonlocal got
        message.ack()
        got += 1

    try:
        with Consumer(
            consumer_conn.channel(), queues=[queue], on_message=on_message, prefetch_count=prefetch, accept=["json"]
        ):
            start = time.perf_counter()
            deadline = start + 120
            while got < len(bodies) and time.perf_counter() < deadline:
                try:
                    consumer_conn.drain_events(timeout=1)
                except TimeoutError:
                    pass
            elapsed = time.perf_counter() - start
    finally:
        consumer_conn.release()
    if got < len(bodies):
        raise RuntimeError(f"baseline consumed {got} of {len(bodies)} messages")
    return len(bodies) / elapsed


# ---- the relay: its own process (as the registry's worker is) or a thread of this one -------
def _make_relay(registry_url: str, broker_url: str, batch_size: int):
    from services.registry.models import Outbox as RegistryOutbox
    from shared.bus.outbox import Relay
    from shared.bus.publisher import Publisher
    from shared.db import make_engine, make_session_factory

    engine = make_engine(registry_url)
    publisher = Publisher(broker_url)
    return (
        engine,
        publisher,
        Relay("registry", make_session_factory(engine), RegistryOutbox, publisher, batch_size=batch_size),
    )


class RelayThread:
    """The relay in a thread of the bench process, beside the consumer (``--relay thread``)."""

    def __init__(self, registry_url: str, broker_url: str, batch_size: int):
        self.engine, self.publisher, self.relay = _make_relay(registry_url, broker_url, batch_size)
        self.stop_flag = threading.Event()
        self.cpu = 0.0
        self.thread = threading.Thread(target=self._run, name="bench-relay", daemon=True)

    def _run(self) -> None:
        begun = time.thread_time()
        try:
            self.relay.run_forever(self.stop_flag)
        finally:
            self.cpu = time.thread_time() - begun

    def connect(self) -> None:
        self.publisher._ensure()  # connected before the clock starts, as a running relay is

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> float:
        self.stop_flag.set()
        if self.thread.is_alive():
            self.thread.join(10)
        self.engine.dispose()
        return self.cpu


class RelayProcess:
    """The relay in a child process (``--relay process``, the default): in a deployment the
    registry's worker relays and the events service's worker consumes, two processes that do
    not share an interpreter lock. The child connects, says ``ready``, relays from ``go`` until
    its stdin closes, then prints its CPU seconds."""

    def __init__(self, registry_url: str, broker_url: str, batch_size: int):
        import subprocess

        env = {**os.environ, "OCOP_BROKER_URL": broker_url}
        self.child = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--relay-child",
                registry_url,
                "--batch-size",
                str(batch_size),
            ],
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def connect(self) -> None:
        line = self.child.stdout.readline().strip()
        if line != "ready":
            self.child.kill()
            raise RuntimeError(f"the relay process did not start (said {line!r})")

    def start(self) -> None:
        self.child.stdin.write("go\n")
        self.child.stdin.flush()

    def stop(self) -> float:
        try:
            self.child.stdin.close()
            out = self.child.stdout.read().strip()
            self.child.wait(15)
            return float(out.splitlines()[-1]) if out else 0.0
        finally:
            if self.child.poll() is None:
                self.child.kill()


def relay_child(registry_url: str, broker_url: str, batch_size: int) -> int:
    engine, publisher, relay = _make_relay(registry_url, broker_url, batch_size)
    publisher._ensure()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    stop, cpu = threading.Event(), {}

    def run():
        begun = time.thread_time()
        try:
            relay.run_forever(stop)
        finally:
            cpu["relay"] = time.thread_time() - begun

    thread = threading.Thread(target=run, name="bench-relay", daemon=True)
    thread.start()
    sys.stdin.read()  # until the parent closes our stdin
    stop.set()
    thread.join(10)
    engine.dispose()
    print(cpu.get("relay", 0.0), flush=True)
    return 0


# ---- the pipeline ----------------------------------------------------------------------------
def pipeline(
    n: int,
    broker_url: str,
    registry_url: str,
    events_url: str,
    prefetch: int,
    batch_size: int,
    relay_mode: str,
    profile: str | None,
) -> tuple[float, dict]:
    from services.events.consumers import handlers
    from services.events.models import CertifiedProduct
    from services.events.models import Inbox as EventsInbox
    from services.events.models import Outbox as EventsOutbox
    from services.registry.models import Outbox as RegistryOutbox
    from shared.bus.consumer import IdempotentConsumer
    from shared.bus.outbox import Emitter
    from shared.bus.trust import SERVICES, Trust, connection_user
    from shared.db import make_engine, make_session_factory

    user = connection_user(broker_url)  # the relay publishes as the bench's one broker user
    bench_trust = Trust(users={s: user or s for s in SERVICES}, check_users=user is not None)
    reg_engine, ev_engine = make_engine(registry_url), make_engine(events_url)
    reg_sf, ev_sf = make_session_factory(reg_engine), make_session_factory(ev_engine)
    runtime = SimpleNamespace(emit=Emitter("events", EventsOutbox))  # what the handlers use of a runtime
    consumer = IdempotentConsumer(
        feed_spec(),
        ev_sf,
        EventsInbox,
        handlers(runtime)["events.registry-feed"],
        broker_url,
        prefetch=prefetch,
        trust=bench_trust,
    )
    relay = (RelayProcess if relay_mode == "process" else RelayThread)(registry_url, broker_url, batch_size)
    stop, ready = threading.Event(), threading.Event()
    cpu = {}  # CPU seconds per thread: a figure that the machine's other load moves far less than time
    profiler = None

    def consume():
        nonlocal profiler
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.thread_time)  # CPU time, not waiting
            profiler.enable()
        begun = time.thread_time()
        try:
            consumer.run(stop, ready)
        finally:
            cpu["consumer"] = time.thread_time() - begun
            if profiler is not None:
                profiler.disable()

    consumer_thread = threading.Thread(target=consume, name="bench-consumer", daemon=True)
    try:
        # Running services are connected before the events arrive: connect outside the clock.
        consumer_thread.start()
        if not ready.wait(30):
            raise RuntimeError("the consumer did not start")
        relay.connect()
        start = time.perf_counter()
        relay.start()
        deadline = start + max(120.0, n / 50)
        held, relayed_at, held_then = 0, None, 0
        while held < n and time.perf_counter() < deadline:
            time.sleep(0.05)
            held = count(ev_sf, CertifiedProduct)
            if relayed_at is None and unsent(reg_sf, RegistryOutbox) == 0:
                relayed_at, held_then = time.perf_counter() - start, held
        elapsed = time.perf_counter() - start
    finally:
        cpu["relay"] = relay.stop()
        stop.set()
        consumer_thread.join(10)
    if profiler is not None:
        profiler.dump_stats(profile)
        _log(f"consumer-thread profile written to {profile} (python -m pstats {profile})")
    checks = {
        "relay": relay_mode,
        "read_model": held,
        "inbox": count(ev_sf, EventsInbox),
        "seconds": round(elapsed, 3),
        "relay_done_after": relayed_at and round(relayed_at, 2),
        "read_model_then": held_then,
        **{f"{k}_cpu_us_per_msg": round(v / n * 1e6) for k, v in sorted(cpu.items())},
    }
    reg_engine.dispose()
    ev_engine.dispose()
    if held < n:
        raise RuntimeError(f"read model holds {held} of {n} rows after {elapsed:.1f}s")
    return n / elapsed, checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="certification events (default 10000)")
    parser.add_argument("--prefetch", type=int, default=100, help="consumer prefetch, both sides (default 100)")
    parser.add_argument(
        "--batch-size", type=int, default=250, help="relay batch size (default 250, as OCOP_RELAY_BATCH)"
    )
    parser.add_argument(
        "--relay",
        choices=("process", "thread"),
        default="process",
        help="run the relay in its own process, as deployed (default), or in a thread beside the consumer",
    )
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile (CPU time) of the consumer thread to FILE")
    parser.add_argument("--relay-child", metavar="REGISTRY_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    broker_url = os.environ.get("OCOP_BROKER_URL", "").strip() or DEFAULT_BROKER
    if args.relay_child:
        return relay_child(args.relay_child, broker_url, args.batch_size)

    from sqlalchemy import select

    from services.registry.models import Outbox as RegistryOutbox
    from shared.bus import admin
    from shared.bus.connection import connect, is_amqp
    from shared.db import make_engine, make_session_factory

    pg = os.environ.get("BENCH_PG_URL", "").strip() or DEFAULT_PG
    amqp = is_amqp(broker_url)

    registry_url = fresh_database(pg, "ocop_bench_registry")
    events_url = fresh_database(pg, "ocop_bench_events")
    migrate("registry", registry_url)
    migrate("events", events_url)
    engine = make_engine(registry_url)
    sf = make_session_factory(engine)
    fill_outbox(sf, RegistryOutbox, args.n)
    with sf() as session:
        bodies = session.execute(select(RegistryOutbox.id, RegistryOutbox.payload).order_by(RegistryOutbox.seq)).all()
    engine.dispose()
    _log(f"{len(bodies)} {EVENT} events in the outbox of ocop_bench_registry")

    conn = connect(broker_url)
    conn.ensure_connection(max_retries=3)
    try:
        clean_broker(conn)
        raw = [(b.id, b.payload) for b in bodies]
        # The baseline is taken before and after the pipeline and averaged: the machine's other
        # load drifts over a run, and one side alone would catch it at one moment only.
        raw_before = baseline(conn, broker_url, amqp, raw, args.prefetch)
        rate, checks = pipeline(
            args.n, broker_url, registry_url, events_url, args.prefetch, args.batch_size, args.relay, args.profile
        )
        spec = feed_spec()
        checks.update({q: admin.queue_size(conn, q) for q in (spec.dlq, spec.parking)})
        _log(f"checks: {checks}")
        if checks[spec.dlq] or checks[spec.parking] or checks["inbox"] != args.n:
            _log("pipeline lost or refused messages")
            return 1
        raw_after = baseline(conn, broker_url, amqp, raw, args.prefetch)
        _log(f"baseline before {raw_before:.0f} msg/s, after {raw_after:.0f} msg/s")
        _figure(rate, (raw_before + raw_after) / 2)
        clean_broker(conn)
    finally:
        conn.release()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
