"""Outbox relay throughput against plain publishing, measured in the same run.

N valid ``registry.product.registered`` envelopes are written (untimed) into an outbox through
``shared.bus.outbox.Emitter``, in a few rounds; each round times, in alternating order:

- baseline: kombu ``Producer.publish`` of the round's outbox bodies, persistent, no confirms;
- relay: ``shared.bus.outbox.Relay.run_once`` until the outbox is empty (rows claimed with
  ``FOR UPDATE SKIP LOCKED``, published with batched confirms, marked sent after the confirms).

The figures are over all rounds (N messages each way). Interleaving makes the ratio hold up on a
machine shared with other work, where one long phase after the other did not. Then, for
information, one confirm at a time: kombu with the ``confirm_publish`` transport option. The
bench queue is purged after every phase (once the broker holds all of its messages).

Everything goes to a bench-only exchange and classic queue (``bench.relay``), never to the
service topology. The database (default ``ocop_bench_relay``) is dropped and created afresh.

    bench/run relay [--messages 20000] [--rounds 4] [--one-confirm 2000] [--batch-size 250]
                    [--in-flight 2] [--profile FILE]
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
    print(
        json.dumps(
            {
                "bench": name,
                "value": round(value),
                "unit": "msg/s",
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3) if baseline else None,
            }
        ),
        flush=True,
    )


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
                emit(
                    session,
                    EVENT,
                    product,
                    1,
                    {
                        "product_id": product,
                        "producer_id": str(uuid.uuid4()),
                        "name": f"Sản phẩm thử {i}",
                        "name_en": f"Bench product {i}",
                        "group": 1 + i % 6,
                        "potential_five_star": False,
                    },
                )
        done = min(n, done + 2000)


def outbox_rows(session_factory, outbox_model, limit: int | None = None, unsent_only: bool = False) -> list:
    from sqlalchemy import select

    M = outbox_model
    with session_factory() as session:
        query = select(M.id, M.type, M.correlation_id, M.payload).order_by(M.seq)
        if unsent_only:
            query = query.where(M.sent_at.is_(None))
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
    queue = Queue(
        BENCH, Exchange(BENCH, type="topic", durable=True), routing_key="#", durable=True, queue_arguments=args
    )
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
        producer.publish(
            r.payload,
            exchange=BENCH,
            routing_key=r.type,
            serializer=None,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=r.id,
            type=r.type,
            correlation_id=r.correlation_id,
            headers={"source": "registry"},
            retry=False,
        )
    return time.perf_counter() - start


# ---- phases --------------------------------------------------------------------------------
class TimedRelay:
    """One Relay (and publisher) for the whole run, as in a worker; times each drain."""

    def __init__(
        self, session_factory, outbox_model, broker_url: str, batch_size: int, in_flight: int, profile: str | None
    ):
        from shared.bus.outbox import Relay
        from shared.bus.publisher import Publisher

        self.publisher = Publisher(broker_url)
        self.relay = Relay(
            "registry", session_factory, outbox_model, self.publisher, batch_size=batch_size, in_flight=in_flight
        )
        self.publisher.confirm(self.publisher.send([]))  # connected before timing, as a running relay is
        self.profile = profile
        self.profiler = None
        if profile:
            import cProfile

            self.profiler = cProfile.Profile()

    def drain(self) -> float:
        """Seconds to relay everything unsent."""
        if self.profiler is not None:
            self.profiler.enable()
        start = time.perf_counter()
        while self.relay.run_once():
            pass
        elapsed = time.perf_counter() - start
        if self.profiler is not None:
            self.profiler.disable()
        return elapsed

    def close(self) -> None:
        self.publisher.close()
        if self.profiler is not None:
            self.profiler.dump_stats(self.profile)
            _log(f"profile of the relay written to {self.profile} (python -m pstats {self.profile})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run relay", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="outbox rows to relay (default 20000)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the messages go in this many rounds of baseline and relay, alternating which "
        "goes first, so that a neighbour's load weighs on both alike (default 4)",
    )
    parser.add_argument(
        "--one-confirm",
        type=int,
        default=2_000,
        help="messages for the one-confirm-at-a-time line (default 2000, 0 to skip)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=250, help="relay batch size (default 250, as OCOP_RELAY_BATCH)"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=2,
        help="relay batches awaiting confirms at once (default 2, the Relay's default)",
    )
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the relay phases to FILE")
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
    _log(f"database {engine.url.render_as_string(hide_password=True)}, broker exchange/queue {BENCH}")

    conn = connect(broker_url)
    conn.ensure_connection(max_retries=3)
    relay = TimedRelay(session_factory, Outbox, broker_url, args.batch_size, args.in_flight, args.profile)
    relay_time = baseline_time = 0.0
    relayed = 0
    try:
        purge(conn)
        rounds = max(1, args.rounds)
        for r in range(rounds):
            size = args.messages // rounds + (1 if r < args.messages % rounds else 0)
            fill_outbox(session_factory, Outbox, size)  # untimed
            rows = outbox_rows(session_factory, Outbox, unsent_only=True)
            for phase in ("baseline", "relay") if r % 2 == 0 else ("relay", "baseline"):
                if phase == "baseline":
                    baseline_time += publish_plain(conn, rows)
                else:
                    relay_time += relay.drain()
                    left = unsent(session_factory, Outbox)
                    if left:
                        _log(f"relay incomplete: {left} rows unsent")
                        return 1
                depth = wait_for_depth(conn, len(rows))
                if depth != len(rows):
                    _log(f"{phase}: {depth} messages in {BENCH}, expected {len(rows)}")
                    return 1
                purge(conn)
            relayed += len(rows)
            _log(f"round {r + 1}/{rounds}: {relayed} relayed")
        baseline = relayed / baseline_time
        _figure("relay", relayed / relay_time, baseline)

        if amqp and args.one_confirm > 0:
            some = outbox_rows(session_factory, Outbox, limit=args.one_confirm)
            confirm_conn = Connection(broker_url, connect_timeout=5, transport_options={"confirm_publish": True})
            try:
                confirm_conn.ensure_connection(max_retries=3)
                _figure("relay_one_confirm", len(some) / publish_plain(confirm_conn, some), baseline)
            finally:
                confirm_conn.release()
            purge(conn)
    finally:
        relay.close()
        conn.release()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv[1:]))
