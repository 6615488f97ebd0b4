"""Configuration from environment variables only (12-factor).

The embedded default needs no variables at all; the real deployment sets the broker and
database URLs. Every variable is listed in the README's configuration table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("registry", "events", "notifications")
ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    broker_url: str
    secret_key: str
    public_base_url: str
    smtp_host: str
    smtp_port: int
    mail_from: str
    relay_batch_size: int = 250
    consumer_prefetch: int = 50
    max_handler_attempts: int = 4
    extra: dict = field(default_factory=dict)

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("embedded://")


def data_dir() -> Path:
    path = Path(_env("OCOP_DATA_DIR", str(ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(service: str) -> Settings:
    """Settings for one service; read at app/worker creation, never at import time."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    data = data_dir()
    return Settings(
        service=service,
        database_url=_env(f"{service.upper()}_DATABASE_URL", f"sqlite:///{data / (service + '.sqlite')}"),
        broker_url=_env("OCOP_BROKER_URL", f"embedded://{data / 'broker.sqlite'}"),
        secret_key=_env("OCOP_SECRET_KEY", "dev-only-secret-change-me"),
        public_base_url=_env("OCOP_PUBLIC_URL", f"http://127.0.0.1:{port('notifications')}").rstrip("/"),
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("SMTP_PORT", "8025")),
        mail_from=_env("MAIL_FROM", "OCOP Xúc tiến thương mại <no-reply@ocop.local>"),
        relay_batch_size=int(_env("OCOP_RELAY_BATCH", "250")),
        consumer_prefetch=int(_env("OCOP_PREFETCH", "50")),
        max_handler_attempts=int(_env("OCOP_HANDLER_ATTEMPTS", "4")),
    )


DEFAULT_PORTS = {"console": 8000, "registry": 8001, "events": 8002, "notifications": 8003}


def port(name: str) -> int:
    """HTTP port of a service (the same in the embedded default and as separate processes)."""
    return int(_env(f"OCOP_{name.upper()}_PORT", str(DEFAULT_PORTS[name])))
