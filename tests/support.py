"""Helpers shared by every test tier.

The integration suite runs in one of two modes, chosen by the environment:
- embedded (default): the embedded broker and one SQLite file per service, in a temp dir;
- real: when OCOP_BROKER_URL is an amqp:// URL and OCOP_TEST_PG_URL names a PostgreSQL
  server, on RabbitMQ and on fresh PostgreSQL databases (one per service).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

SERVICES = ("registry", "events", "notifications")
# A strong secret, as every process outside the embedded default requires (shared.config.require_secret).
TEST_SECRET = "ocop-test-secret-3c5f8a1e9b7d4f2a6e0c8b5d1f3a7e9c"
# The tests' token key pair (shared/signing.py): the registry signs with the private key, every service
# verifies with the public one; the tests mint their tokens with the private key (issue_token).
TEST_TOKEN_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINcDm95rr+VcAmji3bMJST/Vd1seuBDPzuMTfJkXDHB0\n"
    "-----END PRIVATE KEY-----\n"
)
TEST_TOKEN_PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEArM9kvkaWucdJNiVCI+0vsMGIJVzchXg7aayQ09YfbZk=\n"
    "-----END PUBLIC KEY-----\n"
)


def real_mode() -> bool:
    return os.environ.get("OCOP_BROKER_URL", "").startswith("amqp") and bool(os.environ.get("OCOP_TEST_PG_URL"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll for an outcome with a deadline; returns the truthy value or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def reset_postgres(base_url: str, names: list[str]) -> dict[str, str]:
    """Drop and create one database per name; returns SQLAlchemy URLs."""
    import psycopg

    with psycopg.connect(base_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    base = base_url.rsplit("/", 1)[0]
    return {name: f"{base}/{name}" for name in names}


def purge_real_queues(url: str) -> None:
    from shared.bus.connection import connect
    from shared.bus.topology import QUEUES, declare

    conn = connect(url)
    try:
        declare(conn, amqp=True)
        ch = conn.default_channel
        for spec in QUEUES:
            for q in (spec.name, spec.dlq, spec.parking):
                ch.queue_purge(q)
    finally:
        conn.release()


def platform_env(tmp: Path, tag: str) -> dict[str, str]:
    """Environment for a platform under test: fresh data, free ports, and the mode's URLs."""
    env = {
        "OCOP_DATA_DIR": str(tmp),
        "OCOP_SECRET_KEY": TEST_SECRET,
        "OCOP_TOKEN_PRIVATE_KEY": TEST_TOKEN_KEY,
        "OCOP_TOKEN_PUBLIC_KEY": TEST_TOKEN_PUBLIC_KEY,
        "OCOP_LOG_LEVEL": "WARNING",
    }
    for name in ("console", *SERVICES):
        env[f"OCOP_{name.upper()}_PORT"] = str(free_port())
    env["SMTP_PORT"] = str(free_port())
    env["OCOP_PUBLIC_URL"] = f"http://127.0.0.1:{env['OCOP_NOTIFICATIONS_PORT']}"
    if real_mode():
        # OCOP_TEST_TAG keeps concurrent test runs on one machine apart (their own databases;
        # give each its own vhost in OCOP_BROKER_URL too).
        tag += os.environ.get("OCOP_TEST_TAG", "")
        env["OCOP_BROKER_URL"] = os.environ["OCOP_BROKER_URL"]
        # Every service connects as the URL's user here: its events come from that broker user.
        user = urlsplit(env["OCOP_BROKER_URL"]).username or "guest"
        env["OCOP_BROKER_USERS"] = ",".join(f"{s}={user}" for s in SERVICES)
        urls = reset_postgres(os.environ["OCOP_TEST_PG_URL"], [f"ocop_{tag}_{s}" for s in SERVICES])
        for s in SERVICES:
            env[f"{s.upper()}_DATABASE_URL"] = urls[f"ocop_{tag}_{s}"]
        purge_real_queues(env["OCOP_BROKER_URL"])
    else:
        env["OCOP_BROKER_URL"] = f"embedded://{tmp / 'broker.sqlite'}"
        for s in SERVICES:
            env[f"{s.upper()}_DATABASE_URL"] = f"sqlite:///{tmp / (s + '.sqlite')}"
    return env
