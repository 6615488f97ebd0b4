"""Configuration from environment variables only (12-factor).

The embedded default needs no variables at all; the real deployment sets the broker and
database URLs. This is the only module that reads the environment, once when a process starts: the
service's Settings (load) and the process's own (process); every variable is in docs/operations.md's table.
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
    # tokens and sessions (shared/signing.py): the issuer's Ed25519 private key (the registry's settings
    # only) and the public key every service verifies with; each a PEM or a PEM file's path
    token_private_key: str = field(default="", repr=False)
    token_public_key: str = ""
    # what a request may carry (shared/limits.py) and a registry file import may take (import_files.py)
    max_body_bytes: int = 1024 * 1024
    max_form_bytes: int = 64 * 1024
    max_form_parts: int = 50
    import_max_bytes: int = 16 * 1024 * 1024
    import_max_unpacked_bytes: int = 32 * 1024 * 1024
    import_max_rows: int = 20_000
    import_max_seconds: int = 60
    # the lifetime of a token python -m shared.auth issues; the per-purpose secrets that override
    # secret_key for one purpose ({purpose: value}, shared/keys.py)
    token_ttl_seconds: int = 12 * 3600
    key_overrides: dict = field(default_factory=dict, repr=False)
    # the broker users consumers believe: {service: user}, and the operators' users (shared/bus/trust.py)
    broker_users: dict = field(default_factory=lambda: {s: s for s in SERVICES})
    broker_operators: frozenset = frozenset({"admin"})
    worker_metrics_port: int | None = None  # a worker serves /metrics on 127.0.0.1 there (None: not)
    extra: dict = field(default_factory=dict)

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("embedded://")

    def key_material(self, purpose: str) -> str:
        """What ``purpose``'s key is derived from (shared/keys.py): its override if set, else secret_key."""
        return self.key_overrides.get(purpose) or self.secret_key


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
        token_private_key=_env("OCOP_TOKEN_PRIVATE_KEY", "") if service == "registry" else "",
        token_public_key=_env("OCOP_TOKEN_PUBLIC_KEY", ""),
        max_body_bytes=_positive("OCOP_MAX_BODY_BYTES", 1024 * 1024),
        max_form_bytes=_positive("OCOP_MAX_FORM_BYTES", 64 * 1024),
        max_form_parts=_positive("OCOP_MAX_FORM_PARTS", 50),
        import_max_bytes=_positive("OCOP_IMPORT_MAX_BYTES", 16 * 1024 * 1024),  # about 60,000 rows of CSV
        import_max_unpacked_bytes=_positive("OCOP_IMPORT_MAX_UNPACKED_BYTES", 32 * 1024 * 1024),
        import_max_rows=_positive("OCOP_IMPORT_MAX_ROWS", 20_000),
        import_max_seconds=_positive("OCOP_IMPORT_MAX_SECONDS", 60),
        token_ttl_seconds=_within("OCOP_TOKEN_TTL_SECONDS", 12 * 3600, 60, TOKEN_TTL_MAX),
        key_overrides=_key_overrides(),
        broker_users={**{s: s for s in SERVICES}, **_broker_users()},
        broker_operators=frozenset(_listed("OCOP_BROKER_OPERATORS", "admin")),
        worker_metrics_port=_within("OCOP_WORKER_METRICS_PORT", 0, 1, 65535) or None,
    )


TOKEN_TTL_MAX = 7 * 24 * 3600  # a person's token (shared/auth.py MAX_TTL)


def _key_overrides() -> dict[str, str]:
    from .keys import PURPOSES

    return {purpose: _env(variable, "") for purpose, (variable, _) in PURPOSES.items() if _env(variable, "")}


def _broker_users() -> dict[str, str]:
    out = {}
    for item in _listed("OCOP_BROKER_USERS", ""):
        service, _, user = item.partition("=")
        if not user.strip() or service.strip() not in SERVICES:
            raise ValueError(
                f"OCOP_BROKER_USERS: {item!r} is not <service>=<broker user> (services: {', '.join(SERVICES)})"
            )
        out[service.strip()] = user.strip()
    return out


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
    from .keys import PURPOSES

    overrides = {PURPOSES[purpose][0]: value for purpose, value in settings.key_overrides.items()}
    for variable, value in {SECRET_VARIABLE: settings.secret_key, **overrides}.items():
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


def _choice(name: str, default: str, allowed: tuple[str, ...], upper: bool = False) -> str:
    value = _env(name, default).upper() if upper else _env(name, default)
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: must be one of {', '.join(allowed)}")
    return value


DEFAULT_PORTS = {"console": 8000, "registry": 8001, "events": 8002, "notifications": 8003}


def port(name: str) -> int:
    """HTTP port of a service (the same in the embedded default and as separate processes)."""
    return int(_env(f"OCOP_{name.upper()}_PORT", str(DEFAULT_PORTS[name])))


def _listed(name: str, default: str) -> list[str]:
    """A comma-separated variable's items, stripped, blank ones dropped."""
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


def _positive(name: str, default: int) -> int:
    """A whole number of at least 1 (``_`` allowed between digits: 16_777_216), else ``default``."""
    value = _env(name, "").replace("_", "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _within(name: str, default: int, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``, else ``default`` when unset."""
    value = _env(name, "")
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name}={value!r}: must be a whole number between {low} and {high}")
    return int(value)


# ---- the process's own settings -----------------------------------------------------------------
# Read once when a process starts, before (or without) any service's Settings: the log level and the
# embedded host's switches. Like Settings, every variable is in docs/operations.md's table.
@dataclass(frozen=True)
class Process:
    log_level: str = "INFO"
    smtp_sink: bool = True  # the embedded host's mail sink (OCOP_SMTP_SINK=0: none)
    sms_sink: bool = True  # its SMS sink, when no SMS gateway is set (OCOP_SMS_SINK=0: none)
    sms_sink_port: int = 0  # 0: a free port
    console_hosts: frozenset = frozenset()  # Host values the embedded console answers besides loopback
    kill_after_mails: int = 0  # tests/faults: the embedded mail sink kills its process after the Nth mail


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def load_process() -> Process:
    """The process's settings from the environment (validated, naming the variable)."""
    return Process(
        log_level=_choice("OCOP_LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
        smtp_sink=_choice("OCOP_SMTP_SINK", "1", ("0", "1")) == "1",
        sms_sink=_choice("OCOP_SMS_SINK", "1", ("0", "1")) == "1",
        sms_sink_port=_within("OCOP_SMS_SINK_PORT", 0, 0, 65535),
        console_hosts=frozenset(h.lower() for h in _listed("OCOP_CONSOLE_HOSTS", "")),
        kill_after_mails=_within("OCOP_TEST_KILL_AFTER_MAILS", 0, 0, 1_000_000),
    )


_process: Process | None = None


def process() -> Process:
    """This process's settings, loaded at its first use (its start) and kept."""
    global _process
    if _process is None:
        _process = load_process()
    return _process


def set_process(settings: Process | None) -> None:
    """Replace this process's settings (tests; None: load them again at the next use)."""
    global _process
    _process = settings
