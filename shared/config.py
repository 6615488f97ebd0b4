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
    secret_key: str = field(repr=False)
    public_base_url: str
    smtp_host: str
    smtp_port: int
    mail_from: str
    relay_batch_size: int = 250
    consumer_prefetch: int = 50
    max_handler_attempts: int = 4
    # notifications: SMS gateway (empty URL: no SMS channel), per-channel rate limits (messages a
    # second per worker process, 0: none), attempts before a delivery is parked, retry backoff
    sms_gateway_url: str = ""
    sms_gateway_token: str = field(default="", repr=False)
    sms_gateway_user: str = ""
    sms_gateway_password: str = field(default="", repr=False)
    sms_sender: str = "OCOP"
    sms_mode: str = "ucs2"
    sms_max_segments: int = 4
    channel_rates: dict = field(default_factory=lambda: {"email": 0.0, "sms": 10.0, "webhook": 50.0})
    channel_attempts: dict = field(default_factory=lambda: {"email": 6, "sms": 5, "webhook": 8})
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    http_timeout_seconds: float = 10.0
    # notifications: the senders (deliveries claimed at once, how long a claim holds, email senders
    # per worker process), reminders (days before the deadline, as written: "3,1", "none"; how often
    # the worker looks) and the webhook target policy (as written; parsed by webhook_targets)
    send_batch: int = 50
    send_lease_seconds: float = 120.0
    email_connections: int = 3
    reminder_days: str = ""
    reminder_interval_seconds: float = 60.0
    webhook_allow_http: str = ""
    webhook_allowed_networks: str = ""
    webhook_ports: str = ""
    # events: how long after its deadline an unanswered invitation waits before the worker expires it
    expiry_grace_seconds: float = 600.0
    extra: dict = field(default_factory=dict)

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("embedded://")


def data_dir() -> Path:
    path = Path(_env("OCOP_DATA_DIR", str(ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


# Unacknowledged messages a worker takes at once, which is also its largest consumer batch (one
# transaction): notifications gets a fair's publication (hundreds of invitations at once) and
# spends a few queries per batch, so larger batches cost it less per message.
PREFETCH = {"notifications": "200"}


def load(service: str) -> Settings:
    """Settings for one service; read at app/worker creation, never at import time."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    data = data_dir()
    broker_url = _env("OCOP_BROKER_URL", f"embedded://{data / 'broker.sqlite'}")
    return Settings(
        service=service,
        database_url=_env(f"{service.upper()}_DATABASE_URL", f"sqlite:///{data / (service + '.sqlite')}"),
        broker_url=broker_url,
        secret_key=_secret(broker_url),
        public_base_url=_env("OCOP_PUBLIC_URL", f"http://127.0.0.1:{port('console')}").rstrip("/"),
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("SMTP_PORT", "8025")),
        mail_from=_env("MAIL_FROM", "OCOP Xúc tiến thương mại <no-reply@ocop.local>"),
        relay_batch_size=int(_env("OCOP_RELAY_BATCH", "250")),
        consumer_prefetch=int(_env(f"{service.upper()}_PREFETCH", _env("OCOP_PREFETCH", PREFETCH.get(service, "50")))),
        max_handler_attempts=int(_env("OCOP_HANDLER_ATTEMPTS", "4")),
        sms_gateway_url=_env("SMS_GATEWAY_URL", ""),
        sms_gateway_token=_env("SMS_GATEWAY_TOKEN", ""),
        sms_gateway_user=_env("SMS_GATEWAY_USER", ""),
        sms_gateway_password=_env("SMS_GATEWAY_PASSWORD", ""),
        sms_sender=_env("SMS_SENDER", "OCOP"),
        sms_mode=_choice("SMS_MODE", "ucs2", ("ucs2", "unaccented")),
        sms_max_segments=int(_env("SMS_MAX_SEGMENTS", "4")),
        channel_rates={
            c: float(_env(f"OCOP_RATE_{c.upper()}", d)) for c, d in (("email", "0"), ("sms", "10"), ("webhook", "50"))
        },
        channel_attempts={
            c: int(_env(f"OCOP_ATTEMPTS_{c.upper()}", d)) for c, d in (("email", "6"), ("sms", "5"), ("webhook", "8"))
        },
        retry_base_seconds=float(_env("OCOP_RETRY_BASE_SECONDS", "2")),
        retry_max_seconds=float(_env("OCOP_RETRY_MAX_SECONDS", "600")),
        http_timeout_seconds=float(_env("OCOP_HTTP_TIMEOUT_SECONDS", "10")),
        send_batch=int(_env("OCOP_SEND_BATCH", "50")),
        send_lease_seconds=float(_env("OCOP_SEND_LEASE_SECONDS", "120")),
        email_connections=int(_env("OCOP_EMAIL_CONNECTIONS", "3")),
        reminder_days=_env("OCOP_REMINDER_DAYS", ""),
        reminder_interval_seconds=float(_env("OCOP_REMINDER_INTERVAL_SECONDS", "60")),
        webhook_allow_http=_env("OCOP_WEBHOOK_ALLOW_HTTP", ""),
        webhook_allowed_networks=_env("OCOP_WEBHOOK_ALLOWED_NETWORKS", ""),
        webhook_ports=_env("OCOP_WEBHOOK_PORTS", ""),
        expiry_grace_seconds=float(_env("OCOP_EXPIRY_GRACE_SECONDS", "600")),
    )


# ---- the master secret -------------------------------------------------------------------------
# Every key (API tokens, answer links, calendar links, sessions) is derived from it (shared/keys.py).
# Outside the embedded default it must be set and strong; the embedded demo generates one once and
# keeps it in its data dir, so that a demo reachable from a network is not signed with a known key.
SECRET_VARIABLE = "OCOP_SECRET_KEY"
SECRET_HOWTO = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
MIN_SECRET_LENGTH = 32
KNOWN_SECRETS = frozenset(
    {"dev-only-secret-change-me", "change-me-in-production", "test-secret", "changeme", "secret", "demo-secret"}
)
DEMO_SECRET_FILE = "demo-secret.key"


class InsecureSecret(RuntimeError):
    """The process must not start: its secret is missing, known or too weak."""


def secret_problem(value: str) -> str | None:
    """Why ``value`` is not a strong secret, or None."""
    if not value:
        return "is not set"
    if value in KNOWN_SECRETS or value.lower().startswith(("change-me", "dev-only")):
        return "is a published default"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < 12:
        return "repeats too few characters to be random"
    return None


def require_secret(settings: Settings) -> None:
    """Refuse to start outside the embedded default without strong secrets: the master secret and
    any per-purpose override that is set (shared/keys.py)."""
    if settings.is_embedded_broker:
        return
    from .keys import overrides

    for variable, value in {SECRET_VARIABLE: settings.secret_key, **overrides()}.items():
        problem = secret_problem(value)
        if problem:
            raise InsecureSecret(
                f"{variable} {problem}: outside the embedded default every process needs a strong secret "
                f"(at least {MIN_SECRET_LENGTH} random characters). Make one with: {SECRET_HOWTO}"
            )


def _secret(broker_url: str) -> str:
    value = os.environ.get(SECRET_VARIABLE, "").strip()
    if value or not broker_url.startswith("embedded://"):
        return value
    return demo_secret()


def demo_secret() -> str:
    """The embedded demo's secret: generated once, kept in the data dir (readable by its owner only)."""
    import secrets

    path = data_dir() / DEMO_SECRET_FILE
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic, and never replaces the one another process made first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _env(name, default)
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: must be one of {', '.join(allowed)}")
    return value


DEFAULT_PORTS = {"console": 8000, "registry": 8001, "events": 8002, "notifications": 8003}


def port(name: str) -> int:
    """HTTP port of a service (the same in the embedded default and as separate processes)."""
    return int(_env(f"OCOP_{name.upper()}_PORT", str(DEFAULT_PORTS[name])))


# ---- settings read where they are used ----------------------------------------------------------
# This module is the only one that reads the environment (tests/unit/test_settings.py holds the code
# to that). Most settings are Settings fields, read once when a process starts; the few below are read
# each time they are used, through these two functions: the limits a request or an import checks
# (shared/limits.py, services/registry/import_files.py), the per-purpose key overrides
# (shared/keys.py), the token lifetime of python -m shared.auth, the log level, the worker's metrics
# port, the broker users consumers believe (shared/bus/trust.py) and the embedded host's own
# switches. Every variable either way is in the configuration table (docs/operations.md).
def env(name: str, default: str = "") -> str:
    """One variable, stripped of spaces; ``default`` when it is unset or blank."""
    return _env(name, default)


def positive(name: str, default: int) -> int:
    """A whole number of at least 1 (``_`` allowed between digits: 16_777_216), else ``default``."""
    value = _env(name, "").replace("_", "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)
