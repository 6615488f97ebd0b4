"""Outbox relay throughput against plain publishing, measured in the same run.

Phases (the bench queue is purged before each one):

1. baseline: kombu ``Producer.publish`` of the N outbox bodies, persistent, no confirms;
2. relay: ``shared.bus.outbox.Relay.run_once`` until the outbox is empty (rows claimed with
   ``FOR UPDATE SKIP LOCKED``, published with batched confirms, marked sent after the confirms);
3. the baseline again: the printed baseline is over both runs;
4. one confirm at a time: kombu with the ``confirm_publish`` transport option (informational,
   beside the same baseline).

Everything goes to a bench-only exchange and classic queue (``bench.relay``), never to the
service topology. The database (default ``ocop_bench_relay``) is dropped and created afresh.

    bench/run relay [--messages 20000] [--one-confirm 2000] [--batch-size 100] [--in-flight 2]
                    [--profile FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/ocop_bench_relay"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
BENCH = "bench.relay"
EVENT = "registry.product.registered"


def _log(text: str) -> None:
    print(f"[relay] {text}", file=sys.stderr, flush=True)


def _figure(name: str, value: float, baseline: float) -> None:
    print(json.dumps({"bench": name, "value": round(value), "unit": "msg/s", "baseline": round(baseline),
                      "ratio": round(value / baseline, 3) if baseline else None}), flush=True)


# ---- database ----------------------------------------------------------------------------
def fresh_database(url: str):
    """Drop and create the bench database; returns an engine on it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from shared.db import make_engine

    target = make_url(url)
    if target.get_backend_name() == "postgresql":
        name = target.database
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    elif target.get_backend_name() == "sqlite" and target.database and os.path.exists(target.database):
        os.remove(target.database)
    return make_engine(url)


def fill_outbox(session_factory, outbox_model, n: int) -> None:
    from shared.bus.outbox import Emitter

    emit = Emitter("registry", outbox_model, exchange=BENCH)
    done = 0
    while done < n:
        with session_factory() as session, session.begin():
            for i in range(done, min(n, done + 2000)):
                product = str(uuid.uuid4())
                emit(session, EVENT, product, 1, {
                    "product_id": product, "producer_id": str(uuid.uuid4()), "name": f"Sản phẩm thử {i}",
                    "name_en": f"Bench product {i}", "group": 1 + i % 6, "potential_five_star": False})
        done = min(n, done + 2000)


def outbox_rows(session_factory, outbox_model, limit: int | None = None) -> list:
    from sqlalchemy import select

    M = outbox_model
    with session_factory() as session:
        query = select(M.id, M.type, M.correlation_id, M.payload).order_by(M.seq)
        return session.execute(query.limit(limit) if limit else query).all()


def unsent(session_factory, outbox_model) -> int:
    from sqlalchemy import func, select

    with session_factory() as session:
        return session.execute(select(func.count()).where(outbox_model.sent_at.is_(None))).scalar_one()


# ---- broker --------------------------------------------------------------------------------
def bench_topology(conn):
    """The bench-only exchange and classic queue; returns the bound queue."""
    from kombu import Exchange, Queue

    args = {"x-queue-type": "classic"} if conn.transport.driver_type == "amqp" else {}
    queue = Queue(BENCH, Exchange(BENCH, type="topic", durable=True), routing_key="#", durable=True,
                  queue_arguments=args)
    bound = queue(conn.default_channel)
    bound.declare()
    return bound


def purge(conn) -> None:
    bench_topology(conn).purge()


def wait_for_depth(conn, expected: int, timeout: float = 30.0) -> int:
    """The broker's count for the bench queue, polled until it reaches ``expected``."""
    from shared.bus import admin
    from shared.bus.outbox import wait_until

    wait_until(lambda: admin.queue_size(conn, BENCH) >= expected, timeout=timeout, interval=0.1)
    return admin.queue_size(conn, BENCH)


def publish_plain(conn, rows, transport_confirm: bool = False) -> float:
    """kombu Producer.publish of every row, persistent; returns the seconds taken."""
    from kombu import Producer

    producer = Producer(conn.channel())
    start = time.perf_counter()
    for r in rows:
        producer.publish(r.payload, exchange=BENCH, routing_key=r.type, serializer=None,
                         content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                         message_id=r.id, type=r.type, correlation_id=r.correlation_id,
                         headers={"source": "registry"}, retry=False)
    return time.perf_counter() - start


# ---- phases --------------------------------------------------------------------------------
def run_relay(session_factory, outbox_model, broker_url: str, batch_size: int, in_flight: int,
              profile: str | None) -> float:
    from shared.bus.outbox import Relay
    from shared.bus.publisher import Publisher

    publisher = Publisher(broker_url)
    relay = Relay("registry", session_factory, outbox_model, publisher, batch_size=batch_size, in_flight=in_flight)
    publisher.confirm(publisher.send([]))  # connect outside the timed loop, as a running relay is
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    while relay.run_once():
        pass
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
        _log(f"profile written to {profile} (python -m pstats {profile})")
    publisher.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run relay", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="outbox rows to relay (default 20000)")
    parser.add_argument("--one-confirm", type=int, default=2_000,
                        help="messages for the one-confirm-at-a-time line (default 2000, 0 to skip)")
    parser.add_argument("--batch-size", type=int, default=100, help="relay batch size (default 100)")
    parser.add_argument("--in-flight", type=int, default=2,
                        help="relay batches awaiting confirms at once (default 2, the Relay's default)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the relay phase to FILE")
    args = parser.parse_args(argv)

    from kombu import Connection

    from shared.bus.connection import connect, is_amqp
    from shared.bus.outbox import define_models
    from shared.db import make_base, make_session_factory

    db_url = os.environ.get("BENCH_DATABASE_URL", "").strip() or DEFAULT_DB
    broker_url = os.environ.get("OCOP_BROKER_URL", "").strip() or DEFAULT_BROKER
    amqp = is_amqp(broker_url)

    engine = fresh_database(db_url)
    Base = make_base()
    Outbox, _Inbox = define_models(Base)
    Base.metadata.create_all(engine)
    session_factory = make_session_factory(engine)
    fill_outbox(session_factory, Outbox, args.messages)
    rows = outbox_rows(session_factory, Outbox)
    _log(f"{len(rows)} outbox rows in {engine.url.render_as_string(hide_password=True)}")

    conn = connect(broker_url)
    conn.ensure_connection(max_retries=3)
    try:
        # The baseline runs before and after the relay (the figure is over both) so that a
        # neighbour's load on this shared machine weighs on both sides alike.
        purge(conn)
        baseline_time = publish_plain(conn, rows)
        wait_for_depth(conn, len(rows))
        purge(conn)

        elapsed = run_relay(session_factory, Outbox, broker_url, args.batch_size, args.in_flight, args.profile)
        left = unsent(session_factory, Outbox)
        depth = wait_for_depth(conn, len(rows))
        if left or depth < len(rows):
            _log(f"relay incomplete: {left} rows unsent, {depth} messages in {BENCH}")
            return 1
        purge(conn)

        baseline_time += publish_plain(conn, rows)
        wait_for_depth(conn, len(rows))
        purge(conn)
        baseline = 2 * len(rows) / baseline_time
        _figure("relay", len(rows) / elapsed, baseline)

        if amqp and args.one_confirm > 0:
            some = rows[: args.one_confirm]
            confirm_conn = Connection(broker_url, connect_timeout=5, transport_options={"confirm_publish": True})
            try:
                confirm_conn.ensure_connection(max_retries=3)
                _figure("relay_one_confirm", len(some) / publish_plain(confirm_conn, some), baseline)
            finally:
                confirm_conn.release()
            purge(conn)
    finally:
        conn.release()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv[1:]))
