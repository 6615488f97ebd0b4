"""Running the platform as processes, the way users and docker-compose start it, for the
end-to-end and fault tests (imported as ``e2e.deployment``).

- ``Processes``: every child in its own session (so a gunicorn master and its workers go
  together), output to a log file, killed by id at teardown.
- ``SmtpServer``: a real SMTP server (aiosmtpd) in the test process that records what it
  accepts, with gates that hold a session open so a test can kill the sender at a known
  point: before the message is accepted (``hold_data``) or after it was accepted but before
  the sender could commit (``hold_quit``).
- ``Deployment``: migrate, gunicorn and worker per service, on a private RabbitMQ vhost.
- ``Client``: HTTP with role tokens; registration and fair helpers copied from the flow test.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from support import ROOT, SERVICES, TEST_SECRET, TEST_TOKEN_KEY, wait_for

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
SECRET = TEST_SECRET  # what platform_env sets: strong, as required outside the embedded default
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+)")


# ---- processes ---------------------------------------------------------------------------------
def process_env(platform: dict[str, str], **extra: str) -> dict[str, str]:
    """The test runner's environment minus anything that configures the platform, plus ``platform``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("OCOP_", "SMTP_")) or k.endswith("_DATABASE_URL") or k == "MAIL_FROM")
    }
    base.update(platform)
    base.update(extra)
    base["PYTHONUNBUFFERED"] = "1"
    return base


class Processes:
    """Children started by one test; ``kill_all`` (teardown) ends every one still running."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self._n = 0

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        old = self.procs.get(name)
        assert old is None or old.poll() is not None, f"{name} is already running"
        self._n += 1
        log = self.logdir / f"{self._n:02d}-{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs[name], self.logs[name] = proc, log
        return proc

    def signal(self, name: str, sig: int = signal.SIGKILL, group: bool = True) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            if group:
                os.killpg(proc.pid, sig)  # the child leads its own session: this is its group only
            else:
                proc.send_signal(sig)

    def kill(self, name: str, timeout: float = 10) -> int:
        self.signal(name, signal.SIGKILL)
        return self.procs[name].wait(timeout=timeout)

    def alive(self, name: str) -> bool:
        return name in self.procs and self.procs[name].poll() is None

    def tail(self, name: str, lines: int = 40) -> str:
        try:
            return "\n".join(self.logs[name].read_text("utf-8", "replace").splitlines()[-lines:])
        except (KeyError, OSError):
            return ""

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def report(self) -> str:
        return "\n".join(
            f"--- {name} (rc={p.poll()}) {self.logs[name]}\n{self.tail(name, 15)}" for name, p in self.procs.items()
        )


def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


# ---- SMTP ----------------------------------------------------------------------------------------
class SmtpServer:
    """Records every message it accepts: ``(recipient, Message-ID, X-OCOP-Delivery, EmailMessage)``."""

    def __init__(self, port: int):
        from aiosmtpd.controller import Controller

        self.port = port
        self.received: list[tuple[str, str, str, object]] = []
        self._lock = threading.Lock()
        self._gate: str | None = None  # "data" or "quit"
        self._gate_after = 0
        self.held = threading.Event()  # a session is being held at the gate
        self._release = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.controller.stop()

    # gates: hold the (n+1)-th session, before accepting its message or after (at QUIT)
    def hold_data(self, after: int) -> None:
        self._arm("data", after)

    def hold_quit(self, after: int) -> None:
        self._arm("quit", after)

    def _arm(self, where: str, after: int) -> None:
        self.held.clear()
        self._release.clear()
        self._gate, self._gate_after = where, after

    def release(self) -> None:
        self._gate = None
        self._release.set()

    async def _hold(self) -> None:
        self.held.set()
        while not self._release.is_set():
            await asyncio.sleep(0.02)

    async def handle_DATA(self, server, session, envelope):
        if self._gate == "data" and len(self.received) >= self._gate_after:
            await self._hold()
            return "451 4.3.0 try again later"  # never accepted: the sender was killed meanwhile
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt.lower(), str(msg["Message-ID"]), str(msg["X-OCOP-Delivery"]), msg))
        session.ocop_accepted = True
        return "250 2.0.0 accepted"

    async def handle_QUIT(self, server, session, envelope):
        if self._gate == "quit" and getattr(session, "ocop_accepted", False) and len(self.received) > self._gate_after:
            await self._hold()
        return "221 Bye"

    # reading
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def by_recipient(self) -> Counter:
        with self._lock:
            return Counter(r for r, *_ in self.received)

    def to(self, address: str) -> list:
        with self._lock:
            return [m for r, _, _, m in self.received if r == address.lower()]

    def message_ids(self, address: str) -> list[str]:
        with self._lock:
            return [mid for r, mid, _, _ in self.received if r == address.lower()]


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


# ---- RabbitMQ -----------------------------------------------------------------------------------
def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def create_vhost(base_url: str, name: str) -> str:
    """A private vhost (other suites and benchmarks share the broker's "/"); returns its URL."""
    parts = urlsplit(base_url)
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*")
    return f"{parts.scheme}://{parts.netloc}/{quote(name, safe='')}"


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)


def pika_channel(url: str):
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    return conn, conn.channel()


def pika_publish(url: str, messages: list[tuple]) -> None:
    """``(routing key, body bytes, content type, message id, type)`` to ocop.events, with confirms."""
    import pika

    from shared.bus.topology import EVENTS_EXCHANGE

    conn, ch = pika_channel(url)
    try:
        ch.confirm_delivery()
        for key, body, content_type, message_id, type_ in messages:
            ch.basic_publish(
                EVENTS_EXCHANGE,
                key,
                body,
                pika.BasicProperties(
                    content_type=content_type,
                    delivery_mode=2,
                    message_id=message_id,
                    type=type_,
                    user_id=urlsplit(url).username or "guest",
                ),
                mandatory=True,
            )  # the broker vouches for it
    finally:
        conn.close()


def queue_counts(url: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of a queue, asked with a second AMQP client."""
    conn, ch = pika_channel(url)
    try:
        ok = ch.queue_declare(queue, passive=True).method
        return ok.message_count, ok.consumer_count
    finally:
        conn.close()


def pg_value(env: dict[str, str], service: str, sql: str, *args):
    """One value from a service's PostgreSQL database (tests read every database; services never do)."""
    import psycopg

    url = env[f"{service.upper()}_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(sql, args).fetchone()[0]


# ---- the deployment ---------------------------------------------------------------------------------
WORKER_QUEUES = {
    "registry": (),
    "events": ("events.registry-feed", "events.responses"),
    "notifications": ("notifications.main",),
}


class Deployment:
    """Each service as ``manage migrate``, gunicorn (2 workers) and ``python -m services.<svc>.worker``."""

    def __init__(self, procs: Processes, env: dict[str, str]):
        self.procs = procs
        self.env = env
        self.broker_url = env["OCOP_BROKER_URL"]
        self.urls = {s: f"http://127.0.0.1:{env[f'OCOP_{s.upper()}_PORT']}" for s in SERVICES}
        self.client = Client(self.urls)

    def migrate(self) -> None:
        running = [
            subprocess.Popen(
                [PYTHON, "-m", f"services.{s}.manage", "migrate"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for s in SERVICES
        ]
        for s, p in zip(SERVICES, running, strict=True):
            out, _ = p.communicate(timeout=90)
            assert p.returncode == 0 and f"{s}: database at head" in out, out

    def start_api(self, svc: str):
        port = self.env[f"OCOP_{svc.upper()}_PORT"]
        return self.procs.start(
            f"{svc}-api",
            [
                GUNICORN,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--graceful-timeout",
                "5",
                f"services.{svc}.app:create_app()",
            ],
            self.env,
        )

    def start_worker(self, svc: str, name: str | None = None, **extra: str):
        return self.procs.start(
            name or f"{svc}-worker", [PYTHON, "-m", f"services.{svc}.worker"], {**self.env, **extra}
        )

    def start(self, apis=SERVICES, workers=SERVICES) -> Deployment:
        self.migrate()
        for s in apis:
            self.start_api(s)
        for s in workers:
            self.start_worker(s)
        for s in apis:
            self.wait_api(s)
        for s in workers:
            self.wait_consuming(s)
        return self

    def wait_api(self, svc: str, timeout: float = 60) -> None:
        def ready():
            assert self.procs.alive(f"{svc}-api"), self.procs.tail(f"{svc}-api")
            try:
                return requests.get(self.urls[svc] + "/readyz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, timeout=timeout, interval=0.2, message=f"{svc} API ready")

    def wait_consuming(self, svc: str, timeout: float = 60, name: str | None = None) -> None:
        """Every queue of the service's worker has a consumer (the worker is past start-up)."""
        name = name or f"{svc}-worker"

        def consuming():
            assert self.procs.alive(name), self.procs.tail(name)
            return all(queue_counts(self.broker_url, q)[1] >= 1 for q in WORKER_QUEUES[svc])

        if WORKER_QUEUES[svc]:
            wait_for(consuming, timeout=timeout, interval=0.2, message=f"{svc} worker consuming")


# ---- HTTP -------------------------------------------------------------------------------------------
class Client:
    def __init__(self, urls: dict[str, str], token_key: str = TEST_TOKEN_KEY):
        self.urls = urls
        self.token_key = token_key  # the issuer's private key, as platform_env gives the registry
        self.http = requests.Session()

    def token(self, role: str, sub: str | None = None) -> str:
        from shared.auth import issue_token

        return issue_token(self.token_key, role, sub or f"e2e-{role}")

    def call(self, method: str, service: str, path: str, role: str | None = None, sub: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.token(role, sub)}"
        return requests.request(method, self.urls[service] + path, headers=headers, timeout=30, **kw)

    # the flow's steps
    def register_certified(
        self,
        products: int = 1,
        score: int = 78,
        email: str | None = None,
        name: str = "Hợp tác xã Kẹo dừa Thanh Long",
        certify: bool = True,
    ) -> dict:
        """A producer in Bến Tre (now Vĩnh Long) with ``products`` products, certified unless told not to."""
        code = f"T-{uuid.uuid4().hex[:10]}"
        email = email or f"{code.lower()}@example.vn"
        r = self.call(
            "POST",
            "registry",
            "/producers",
            "registry_officer",
            json={
                "code": code,
                "name": name,
                "kind": "cooperative",
                "province": "Bến Tre",
                "email": email,
                "consent": {"email": True, "sms": False},
            },
        )
        assert r.status_code == 201, r.text
        producer = r.json()
        out = {"producer": producer, "email": email, "products": [], "certifications": []}
        for i in range(products):
            r = self.call(
                "POST",
                "registry",
                "/products",
                "registry_officer",
                json={"producer_id": producer["id"], "name": f"Kẹo dừa sầu riêng {i + 1}", "group": 1},
            )
            assert r.status_code == 201, r.text
            out["products"].append(r.json())
            if certify:
                out["certifications"].append(self.certify(out["products"][-1]["id"], score))
        return out

    def certify(self, product_id: str, score: int = 78) -> dict:
        r = self.call(
            "POST",
            "registry",
            "/certifications",
            "registry_officer",
            json={
                "product_id": product_id,
                "score": score,
                "issued_by": "UBND tỉnh Bến Tre",
                "decision_number": "1358/QĐ-UBND",
                "decision_date": "2025-07-20",
            },
        )
        assert r.status_code == 201, r.text
        return r.json()

    def register_many(self, n: int, products: int = 1, threads: int = 4, certify: bool = True) -> list[dict]:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda _: self.register_certified(products, certify=certify), range(n)))

    def certify_all(self, product_ids: list[str], threads: int = 8) -> list[dict]:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(self.certify, product_ids))

    def in_read_model(self, product_id: str) -> dict | None:
        r = self.call("GET", "events", f"/catalogue/{product_id}", "trade_officer")
        return r.json() if r.ok else None

    def missing_from_read_model(self, product_ids) -> list[str]:
        return [p for p in product_ids if self.in_read_model(p) is None]

    def create_fair(self, capacity: int = 5, **rules) -> dict:
        starts = datetime.now(UTC).date() + timedelta(days=60)
        r = self.call(
            "POST",
            "events",
            "/fairs",
            "trade_officer",
            json={
                "name": f"Hội chợ OCOP Cần Thơ {uuid.uuid4().hex[:4]}",
                "organiser": "Sở Công Thương Cần Thơ",
                "host_province": "Cần Thơ",
                "region": "mekong_delta",
                "venue": "Công viên sông Hậu",
                "starts_on": starts.isoformat(),
                "ends_on": (starts + timedelta(days=4)).isoformat(),
                "capacity": capacity,
                "invitation_deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                "subsidy_per_booth": 8000000,
                "rules": rules,
            },
        )
        assert r.status_code == 201, r.text
        return r.json()

    def publish(self, fair_id: str) -> list[dict]:
        r = self.call("POST", "events", f"/fairs/{fair_id}/publish", "trade_officer")
        assert r.status_code == 200 and r.json()["status"] == "inviting", r.text
        return self.call("GET", "events", f"/fairs/{fair_id}/invitations", "trade_officer").json()

    def deliveries(self, **query) -> list[dict]:
        r = self.call("GET", "notifications", "/deliveries", "trade_officer", params=query)
        assert r.status_code == 200, r.text
        return r.json()


def wait_emails(smtp: SmtpServer, addresses, timeout: float = 60, procs: Processes | None = None) -> Counter:
    """Until every address received at least one message; returns counts by recipient."""
    wanted = {a.lower() for a in addresses}

    def all_there():
        got = smtp.by_recipient()
        return got if wanted <= set(got) else None

    try:
        return wait_for(all_there, timeout=timeout, interval=0.1, message=f"emails to {len(wanted)} recipients")
    except BaseException:
        if procs is not None:
            print(procs.report())
        raise


def all_sent(client: Client, n: int):
    """The delivery log once it holds ``n`` deliveries, every one committed as sent: from then on
    nothing can be (re)sent, so counting emails is final without waiting for a quiet period."""

    def done():
        rows = client.deliveries()
        return rows if len(rows) >= n and all(d["status"] == "sent" for d in rows) else None

    return done


# ---- fixtures (imported by the e2e and faults conftests) ----------------------------------------------
@pytest.fixture(scope="session")
def vhost_url():
    """A private RabbitMQ vhost for this test session (real mode), set up like a deployment's."""
    name = f"ocop_test_{os.getpid()}"
    url = create_vhost(os.environ["OCOP_BROKER_URL"], name)
    try:
        # as on a deployment: the topology and the broker's safety-net policies (delivery limit, DLX)
        run([PYTHON, "-m", "shared.bus.cli", "setup"], process_env({"OCOP_BROKER_URL": url}), timeout=120)
        yield url
    finally:
        delete_vhost(name)


@pytest.fixture
def procs(tmp_path):
    p = Processes(tmp_path / "logs")
    yield p
    p.kill_all()
    print(p.report())


def real_env(tmp: Path, tag: str, vhost: str) -> dict[str, str]:
    """platform_env in real mode (fresh PostgreSQL databases named by ``tag``) on the private vhost.

    platform_env declares the topology and purges the queues of the broker URL it finds in the
    environment: point it at the private vhost, so that other suites using "/" keep their messages."""
    from support import platform_env

    saved = os.environ.get("OCOP_BROKER_URL")
    os.environ["OCOP_BROKER_URL"] = vhost
    try:
        env = platform_env(tmp, tag)
    finally:
        if saved is None:
            os.environ.pop("OCOP_BROKER_URL", None)
        else:
            os.environ["OCOP_BROKER_URL"] = saved
    assert env["OCOP_BROKER_URL"] == vhost
    return env
