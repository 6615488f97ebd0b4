"""notify: invitation events through the notifications worker to emails accepted by an SMTP server.

N ``events.invitation.issued`` envelopes (contract-valid, for N producers across ``--fairs``
fairs, each producer known to the service with an email address) are published untimed to a
bench-only queue bound like ``notifications.main``. The timed part runs the notifications
worker as deployed: ``--workers`` replicas (2, as docker-compose.yml runs them), each its own
process (``python bench/notify.py --worker-child``: outbox relay, the consumer with the
service's handlers, the channel senders, the reminder sweep), started when told ``go``, and
ends when the SMTP server has received N messages and the service's delivery log holds N
emails ``sent`` (checked: N distinct X-OCOP-Delivery headers, none twice).

Baseline, same run, same server: plain ``smtplib`` sending the same N messages (the bytes the
service built for those deliveries, rebuilt from its database) over one connection (``sendmail``
in a loop), taken twice after the service's run and averaged.

The SMTP server is aiosmtpd on 127.0.0.1, started by the bench in its own process (it counts
what it accepts and remembers each X-OCOP-Delivery). The database ``ocop_bench_notifications``
(next to ``BENCH_PG_URL``) is dropped and migrated afresh; the exchange ``bench.notify`` and
queue ``bench.notifications`` (with .dlq/.parking) are deleted at the start and at the end.
stderr gets the checks and the worker's CPU seconds per message.

    bench/run notify [--n 10000] [--fairs 40] [--workers 2] [--prefetch N] [--profile FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
EXCHANGE = "bench.notify"
QUEUE = "bench.notifications"
EVENT = "events.invitation.issued"
DELIVERY = re.compile(rb"\r\nX-OCOP-Delivery: ([^\r\n]+)\r\n")


def _log(text: str) -> None:
    print(f"[notify] {text}", file=sys.stderr, flush=True)


def _figure(value: float, baseline: float) -> None:
    print(
        json.dumps(
            {
                "bench": "notify",
                "value": round(value),
                "unit": "msg/s",
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3) if baseline else None,
            }
        ),
        flush=True,
    )


def queue_spec():
    from shared.bus.topology import QueueSpec

    return QueueSpec(QUEUE, "notifications", EXCHANGE, ("events.invitation.#",))


# ---- children: the SMTP server and the worker, each its own process --------------------------------
def _child(args: list[str], env: dict | None = None) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=str(ROOT),
        env={**os.environ, **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline().strip()
    if line != "ready":
        child.kill()
        raise RuntimeError(f"{args[0]} did not start (said {line!r})")
    return child


def _ask(child: subprocess.Popen, command: str) -> str:
    child.stdin.write(command + "\n")
    child.stdin.flush()
    return child.stdout.readline().strip()


def sink_child(port: int) -> int:
    """aiosmtpd accepting every message; on stdin: ``count`` -> "<accepted> <distinct deliveries>",
    ``reset`` forgets them; EOF ends it."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    state = {"accepted": 0, "ids": set()}
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            match = DELIVERY.search(envelope.original_content or envelope.content)
            with lock:
                state["accepted"] += 1
                if match:
                    state["ids"].add(match.group(1))
            return "250 2.0.0 accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        with lock:
            if line.strip() == "reset":
                state["accepted"], state["ids"] = 0, set()
                print("ok", flush=True)
            else:
                print(f"{state['accepted']} {len(state['ids'])}", flush=True)
    controller.stop()
    return 0


def worker_child(db_url: str, broker_url: str, smtp_port: int, prefetch: int | None, profile: str | None) -> int:
    """The notifications worker (relay, consumer, senders, reminders) on the bench queue and
    exchange; loops start on ``go``; on EOF it stops and prints its CPU seconds."""
    from dataclasses import replace

    from services.notifications.app import create_app
    from services.notifications.consumers import handlers
    from services.notifications.models import Outbox
    from services.notifications.worker import Reminders, senders
    from shared.bus.consumer import IdempotentConsumer
    from shared.bus.outbox import Emitter, Relay
    from shared.bus.publisher import Publisher
    from shared.config import load
    from shared.signing import new_pair
    from shared.web import runtime_of
    from shared.worker import tune_gc

    settings = replace(
        load("notifications"),
        database_url=db_url,
        broker_url=broker_url,
        smtp_port=smtp_port,
        smtp_host="127.0.0.1",
        sms_gateway_url="",
        secret_key="ocop-bench-notify-secret-8c3e1f7a5d9b2e4c6a0f",
        token_public_key=new_pair()[1],  # a verifier needs the token public key off embedded
    )  # strong: required off embedded
    if prefetch is not None:
        settings = replace(settings, consumer_prefetch=prefetch)
    rt = runtime_of(create_app(settings=settings))
    rt.emit = Emitter("notifications", Outbox, exchange=EXCHANGE)  # its own events to the bench exchange
    relay = Relay(
        "notifications", rt.session_factory, rt.outbox, Publisher(broker_url), batch_size=settings.relay_batch_size
    )
    consumer = IdempotentConsumer(
        queue_spec(),
        rt.session_factory,
        rt.inbox,
        handlers(rt)["notifications.main"],
        broker_url,
        max_attempts=settings.max_handler_attempts,
        prefetch=settings.consumer_prefetch,
        trust=bench_trust(broker_url),
    )
    loops = [("relay", relay.run_forever), ("consumer", consumer.run)]
    loops += [(f"{s.channel}-sender-{i}", s.run_forever) for i, s in enumerate(senders(rt))]
    loops.append(("reminders", Reminders(rt).run_forever))
    _warm_up()
    tune_gc()  # as shared.worker.run_forever does
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    stop, profiles, cpu_of = threading.Event(), {}, {}

    def run(name, loop):
        if profile:
            import cProfile

            profiles[name] = cProfile.Profile(time.thread_time)
            profiles[name].enable()
        begun = time.thread_time()
        try:
            loop(stop)
        finally:
            cpu_of[name] = time.thread_time() - begun
            if name in profiles:
                profiles[name].disable()

    begun = time.process_time()
    threads = [threading.Thread(target=run, args=(name, loop), name=name, daemon=True) for name, loop in loops]
    for t in threads:
        t.start()
    sys.stdin.read()  # until the parent closes our stdin
    cpu = time.process_time() - begun
    stop.set()
    for t in threads:
        t.join(15)
    for name, prof in profiles.items():
        prof.dump_stats(f"{profile}.{name}")
    rt.engine.dispose()
    print(json.dumps({"process": round(cpu, 3), **{k: round(v, 3) for k, v in sorted(cpu_of.items())}}), flush=True)
    return 0


def _warm_up() -> None:
    """Templates compiled and catalogues read, as in a worker that has run a while."""
    from services.notifications import rendering
    from services.notifications.previews import preview_context
    from shared.contracts import parse_envelope, sample

    _, data = parse_envelope(sample(EVENT, 1))
    ctx = preview_context("invitation", data, "x", "http://127.0.0.1")
    for lang in ("vi", "en"):
        rendering.render("invitation", lang, ctx, sms_link=ctx["short_link"], calendar_uid="x")


# ---- setup ----------------------------------------------------------------------------------------
def fresh_database(base_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def seed_recipients(session_factory, n: int) -> list[str]:
    """N producers as the registry's events would have made them known (email, no SMS)."""
    from sqlalchemy import insert

    from services.notifications.models import Recipient

    ids = [str(uuid.uuid4()) for _ in range(n)]
    rows = [
        {
            "producer_id": pid,
            "name": f"Hợp tác xã Kẹo dừa Thanh Long {i}",
            "email": f"htx{i:05d}@bench.ocop.vn",
            "phone": None,
            "language": "en" if i % 10 == 0 else "vi",
            "consent_email": True,
            "consent_sms": False,
            "source_version": 1,
            "opt_out_email": False,
            "opt_out_sms": False,
        }
        for i, pid in enumerate(ids)
    ]
    with session_factory() as session, session.begin():
        session.execute(insert(Recipient), rows)
    return ids


def invitations(producers: list[str], fairs: int) -> list[dict]:
    """One events.invitation.issued envelope per producer, spread over ``fairs`` fairs."""
    from shared.contracts import contract_for, make_envelope, sample

    base = sample(EVENT, 1)["data"]
    schema = contract_for(EVENT, 1).schema()
    starts = date.today() + timedelta(days=60)
    fair_list = [
        {
            **base["fair"],
            "fair_id": str(uuid.uuid4()),
            "name": f"Hội chợ OCOP và đặc sản vùng miền {k + 1}",
            "starts_on": (starts + timedelta(days=7 * k)).isoformat(),
            "ends_on": (starts + timedelta(days=7 * k + 4)).isoformat(),
        }
        for k in range(fairs)
    ]
    deadline = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    out = []
    for i, pid in enumerate(producers):
        data = {
            **base,
            "invitation_id": str(uuid.uuid4()),
            "producer_id": pid,
            "fair": fair_list[i % fairs],
            "deadline": deadline,
            "rank": i // fairs + 1,
        }
        out.append(make_envelope(EVENT, 1, "events", data["invitation_id"], 1, schema.load(data)))
    return out


def clean_broker(conn) -> None:
    from kombu import Exchange

    spec = queue_spec()
    channel = conn.default_channel
    for name in (spec.name, spec.dlq, spec.parking):
        try:
            channel.queue_delete(queue=name)
        except Exception:  # noqa: BLE001 - not there yet
            channel = conn.default_channel
    try:
        channel.exchange_delete(EXCHANGE)
    except Exception:  # noqa: BLE001
        channel = conn.default_channel
    Exchange(EXCHANGE, type="topic", durable=True)(channel).declare()


def bench_trust(broker_url: str):
    """Every service is the bench's one broker user: its events are believed from that user."""
    from shared.bus.trust import SERVICES, Trust, connection_user

    user = connection_user(broker_url)
    return Trust(users={s: user or s for s in SERVICES}, check_users=user is not None)


def publish(conn, envelopes: list[dict], amqp: bool) -> None:
    """The events into the bench queue, as the events service's relay would put them (persistent)."""
    from kombu import Producer

    from shared.bus import admin
    from shared.bus.outbox import wait_until
    from shared.bus.topology import kombu_queues

    for q in kombu_queues(queue_spec(), amqp):
        q(conn.default_channel).declare()
    producer = Producer(conn.channel())
    for env in envelopes:
        body = json.dumps(env, ensure_ascii=False)
        producer.publish(
            body,
            exchange=EXCHANGE,
            routing_key=env["type"],
            serializer=None,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=env["id"],
            type=env["type"],
            correlation_id=env["correlation_id"],
            headers={"source": "events"},
            retry=False,
            **({"user_id": conn.userid or "guest"} if amqp else {}),
        )  # as the relay would
    wait_until(lambda: admin.queue_size(conn, QUEUE) >= len(envelopes), timeout=120, interval=0.2)


# ---- the phases -----------------------------------------------------------------------------------
def sent_count(session_factory) -> int:
    from sqlalchemy import func, select

    from services.notifications.models import Delivery

    with session_factory() as session:
        return session.execute(
            select(func.count()).where(Delivery.channel == "email", Delivery.status == "sent")
        ).scalar_one()


def delivery_count(session_factory) -> int:
    from sqlalchemy import func, select

    from services.notifications.models import Delivery

    with session_factory() as session:
        return session.execute(select(func.count()).select_from(Delivery)).scalar_one()


def run_service(
    n: int,
    db_url: str,
    broker_url: str,
    smtp_port: int,
    sink,
    session_factory,
    prefetch: int | None,
    profile: str | None,
    workers: int = 1,
) -> tuple[float, dict]:
    """Seconds from ``go`` until N emails are sent and received; the workers' CPU seconds (each
    process's, and each loop's thread's, summed over the workers)."""
    children = [
        _child(
            [
                "--worker-child",
                db_url,
                "--smtp-port",
                str(smtp_port),
                *(["--prefetch", str(prefetch)] if prefetch is not None else []),
                *(["--profile", f"{profile}.w{i}"] if profile else []),
            ],
            {"OCOP_BROKER_URL": broker_url},
        )
        for i in range(workers)
    ]
    try:
        start = time.perf_counter()
        for worker in children:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        # Watching costs the machine little: the server's count (a pipe) often, the database's
        # counts (which read the table) once a second, and at the end.
        deadline, queued_at, last_log, last_count = start + max(300.0, n / 20), None, start, start
        while time.perf_counter() < deadline:
            time.sleep(0.05)
            if queued_at is None and time.perf_counter() - last_count >= 1:
                last_count = time.perf_counter()
                if delivery_count(session_factory) >= n:
                    queued_at = last_count - start
            if int(_ask(sink, "count").split()[0]) >= n and sent_count(session_factory) >= n:
                break
            if os.environ.get("BENCH_VERBOSE") and time.perf_counter() - last_log > 1:
                last_log = time.perf_counter()
                _log(
                    f"{last_log - start:5.1f}s queued {delivery_count(session_factory)}"
                    f" sent {sent_count(session_factory)}"
                )
        elapsed = time.perf_counter() - start
        _log(f"every message queued after {queued_at and round(queued_at, 2)}s, sent after {elapsed:.2f}s")
    finally:
        cpu: dict = {}
        for worker in children:
            worker.stdin.close()
        for worker in children:
            out = worker.stdout.read().strip()
            worker.wait(30)
            for k, v in (json.loads(out.splitlines()[-1]) if out else {}).items():
                cpu[k] = cpu.get(k, 0.0) + v
    return elapsed, cpu


def messages(session_factory) -> list[tuple[str, bytes]]:
    """The bytes the service built for its email deliveries (recipient, message), as it sent them."""
    from sqlalchemy import select

    from services.notifications.channels import email_bytes
    from services.notifications.models import Delivery, Recipient
    from shared.config import load

    mail_from = load("notifications").mail_from
    with session_factory() as session:
        q = (
            select(Delivery, Recipient)
            .join(Recipient, Recipient.producer_id == Delivery.producer_id)
            .where(Delivery.channel == "email")
            .order_by(Delivery.created_at)
        )
        rows = session.execute(q).all()
        return [(r.email, email_bytes(d, r.name, r.email, mail_from)) for d, r in rows]


def baseline(port: int, mails: list[tuple[str, bytes]]) -> float:
    """Plain smtplib: one connection, ``sendmail`` of each message; returns msg/s."""
    import smtplib

    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        start = time.perf_counter()
        for rcpt, data in mails:
            smtp.sendmail("no-reply@ocop.local", [rcpt], data)
        elapsed = time.perf_counter() - start
    finally:
        smtp.quit()
    return len(mails) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run notify", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="invitation events (default 10000)")
    parser.add_argument("--fairs", type=int, default=40, help="fairs they are spread over (default 40)")
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="consumer prefetch (default: the service's, 200: see NOTIFICATIONS_PREFETCH)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes (replicas; default 2, as docker-compose.yml runs them)"
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile (CPU time) of each worker loop to FILE.w<i>.<loop>")
    parser.add_argument("--sink-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-child", metavar="DB_URL", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    broker_url = os.environ.get("OCOP_BROKER_URL", "").strip() or DEFAULT_BROKER
    if args.sink_child:
        return sink_child(args.sink_child)
    if args.worker_child:
        return worker_child(args.worker_child, broker_url, args.smtp_port, args.prefetch, args.profile)

    from shared.bus import admin
    from shared.bus.connection import connect, is_amqp
    from shared.db import make_engine, make_session_factory, run_migrations

    sys.path.insert(0, str(ROOT / "tests"))
    from support import free_port

    pg = os.environ.get("BENCH_PG_URL", "").strip() or DEFAULT_PG
    db_url = fresh_database(pg, "ocop_bench_notifications")
    run_migrations(ROOT / "services" / "notifications", db_url)
    engine = make_engine(db_url)
    sf = make_session_factory(engine)
    producers = seed_recipients(sf, args.n)
    envelopes = invitations(producers, args.fairs)
    port = free_port()
    sink = _child(["--sink-child", str(port)])
    conn = connect(broker_url)
    conn.ensure_connection(max_retries=3)
    try:
        clean_broker(conn)
        publish(conn, envelopes, is_amqp(broker_url))
        _log(
            f"{args.n} {EVENT} events in {QUEUE} for {args.n} producers across {args.fairs} fairs; "
            f"SMTP server on 127.0.0.1:{port}"
        )
        seconds, cpu = run_service(
            args.n, db_url, broker_url, port, sink, sf, args.prefetch, args.profile, args.workers
        )
        accepted, distinct = map(int, _ask(sink, "count").split())
        spec = queue_spec()
        checks = {
            "seconds": round(seconds, 2),
            "sent": sent_count(sf),
            "accepted": accepted,
            "distinct": distinct,
            "worker_cpu_us_per_msg": {k: round(v / args.n * 1e6) for k, v in cpu.items()},
            **{q: admin.queue_size(conn, q) for q in (spec.name, spec.dlq, spec.parking)},
        }
        _log(f"checks: {checks}")
        if (
            checks["sent"] != args.n
            or accepted != args.n
            or distinct != args.n
            or checks[spec.dlq]
            or checks[spec.parking]
        ):
            _log("the service lost, repeated or refused messages")
            return 1
        mails = messages(sf)
        # The baseline: the same messages, plain smtplib, the same server, twice.
        rates = []
        for _ in range(2):
            _ask(sink, "reset")
            rates.append(baseline(port, mails))
        _log(f"baseline {rates[0]:.0f} and {rates[1]:.0f} msg/s; service {args.n / seconds:.0f} msg/s")
        _figure(args.n / seconds, sum(rates) / len(rates))
        clean_broker(conn)
    finally:
        conn.release()
        sink.stdin.close()
        sink.wait(15)
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
