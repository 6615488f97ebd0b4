"""Configuration comes from one place: only shared/config.py reads the environment, once when a
process starts (a service's Settings from config.load, the process's own from config.process), and
every variable the code reads is documented in the configuration table (docs/operations.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from shared import config

ROOT = Path(__file__).resolve().parents[2]
CODE = ("services", "shared", "embedded")
READS_ENV = re.compile(r"\bos\.environ\b|\bgetenv\(|\bfrom os import\b[^\n]*\benviron\b")
NAME = re.compile(r"""["']((?:OCOP|SMTP|SMS)_[A-Z0-9_]+|MAIL_FROM)["']""")


def sources():
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_only_shared_config_reads_the_environment():
    readers = [
        str(p.relative_to(ROOT))
        for p in sources()
        if p != ROOT / "shared" / "config.py" and READS_ENV.search(p.read_text(encoding="utf-8"))
    ]
    assert readers == []


# What the rest of the code may use of shared/config.py: the loaded objects and a few helpers (the
# data dir and the ports, read where a process starts), never a function that reads one variable.
CONFIG_API = {
    "load",
    "Settings",
    "process",
    "Process",
    "set_process",
    "data_dir",
    "port",
    "SERVICES",
    "ROOT",
    "require_secret",
    "secret_problem",
    "InsecureSecret",
    "demo_secret",
    "DEMO_SECRET_FILE",
    "SECRET_VARIABLE",
    "SECRET_HOWTO",
    "MIN_SECRET_LENGTH",
    "DEFAULT_PORTS",
    "LOG_LEVELS",
}
IMPORTS_CONFIG = re.compile(r"^\s*from (?:shared|\.+) import [^\n]*\bconfig\b", re.MULTILINE)
USES_CONFIG = re.compile(r"(?<![\w.])config\.([A-Za-z_]+)\b")  # shared.config's, not app.config's


def test_the_code_reads_settings_objects_not_variables():
    used = {
        (str(p.relative_to(ROOT)), name)
        for p in sources()
        if p != ROOT / "shared" / "config.py" and IMPORTS_CONFIG.search(p.read_text(encoding="utf-8"))
        for name in USES_CONFIG.findall(p.read_text(encoding="utf-8"))
    }
    assert sorted((path, name) for path, name in used if name not in CONFIG_API) == []
    assert not hasattr(config, "env") and not hasattr(config, "positive")


class _Recording(dict):
    """os.environ as load() sees it, remembering every name asked for."""

    def __init__(self, base):
        super().__init__(base)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)


def variables_read(monkeypatch, tmp_path) -> set[str]:
    """The names load() asks for in each service (its f-string ones included), and every variable
    name written as a string in the code (config.env, config.positive, the limits' defaults...)."""
    recording = _Recording({"OCOP_DATA_DIR": str(tmp_path)})
    monkeypatch.setattr(os, "environ", recording)
    for service in config.SERVICES:
        config.load(service)
    config.load_process()
    monkeypatch.undo()
    named = {m for p in sources() for m in NAME.findall(p.read_text(encoding="utf-8"))}
    return recording.asked | named


def documented() -> set[str]:
    """The names in the first column of a table in the docs (`A`, `B` or `<SERVICE>_X`)."""
    names = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("| `"):
                names.update(re.findall(r"`([A-Z<][A-Z0-9_<>]+)`", line.split(" | ")[0]))
    return names


def test_every_variable_the_code_reads_is_documented(monkeypatch, tmp_path):
    read = variables_read(monkeypatch, tmp_path)
    assert {
        "OCOP_BROKER_URL",
        "REGISTRY_DATABASE_URL",
        "NOTIFICATIONS_PREFETCH",
        "OCOP_IMPORT_MAX_ROWS",
        "OCOP_CONSOLE_HOSTS",
    } <= read  # the collection sees all three ways of reading
    table = documented()
    services = "|".join(s.upper() for s in config.SERVICES)
    missing = sorted(n for n in read if n not in table and re.sub(f"^({services})_", "<SERVICE>_", n) not in table)
    assert missing == []


@pytest.mark.parametrize(("value", "expected"), [("", 1024 * 1024), ("  ", 1024 * 1024), ("16_777_216", 16_777_216)])
def test_a_positive_setting(monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCOP_MAX_BODY_BYTES", value)
    assert config.load("events").max_body_bytes == expected


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1.5"])
def test_a_positive_setting_refuses_anything_else_naming_the_variable(monkeypatch, tmp_path, value):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCOP_MAX_FORM_PARTS", value)
    with pytest.raises(ValueError, match="OCOP_MAX_FORM_PARTS must be a whole number of at least 1"):
        config.load("events")


def test_the_settings_once_read_at_use_are_read_at_start(monkeypatch, tmp_path):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    for name, value in {
        "OCOP_MAX_BODY_BYTES": "2048",
        "OCOP_MAX_FORM_BYTES": "1024",
        "OCOP_MAX_FORM_PARTS": "7",
        "OCOP_TOKEN_TTL_SECONDS": "900",
        "OCOP_BROKER_USERS": " events=ocop-events , registry=reg ",
        "OCOP_BROKER_OPERATORS": "admin, ops",
        "OCOP_WORKER_METRICS_PORT": "9105",
        "OCOP_ANSWER_LINK_SECRET": "answer-link-override",
    }.items():
        monkeypatch.setenv(name, value)
    s = config.load("notifications")
    assert (s.max_body_bytes, s.max_form_bytes, s.max_form_parts, s.token_ttl_seconds) == (2048, 1024, 7, 900)
    assert s.broker_users == {"registry": "reg", "events": "ocop-events", "notifications": "notifications"}
    assert s.broker_operators == frozenset({"admin", "ops"}) and s.worker_metrics_port == 9105
    assert s.key_material("answer-link") == "answer-link-override" and s.key_material("session") == s.secret_key
    for name in ("OCOP_WORKER_METRICS_PORT", "OCOP_BROKER_USERS", "OCOP_BROKER_OPERATORS", "OCOP_ANSWER_LINK_SECRET"):
        monkeypatch.delenv(name)
    s = config.load("notifications")
    assert s.worker_metrics_port is None and s.broker_users == {n: n for n in config.SERVICES}
    assert s.broker_operators == frozenset({"admin"}) and s.key_overrides == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OCOP_TOKEN_TTL_SECONDS", "30"),
        ("OCOP_WORKER_METRICS_PORT", "99999"),
        ("OCOP_WORKER_METRICS_PORT", "http"),
        ("OCOP_BROKER_USERS", "billing=ocop-billing"),
        ("OCOP_BROKER_USERS", "events"),
    ],
)
def test_a_bad_service_setting_stops_the_start_naming_its_variable(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        config.load("events")


def test_the_process_settings(monkeypatch):
    for name in (
        "OCOP_LOG_LEVEL",
        "OCOP_SMTP_SINK",
        "OCOP_SMS_SINK",
        "OCOP_SMS_SINK_PORT",
        "OCOP_TEST_KILL_AFTER_MAILS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OCOP_CONSOLE_HOSTS", " Console.Example:443 ,, other:8000")
    assert config.load_process() == config.Process(console_hosts=frozenset({"console.example:443", "other:8000"}))
    monkeypatch.setenv("OCOP_LOG_LEVEL", "warning")
    monkeypatch.setenv("OCOP_SMTP_SINK", "0")
    monkeypatch.setenv("OCOP_SMS_SINK_PORT", "2526")
    p = config.load_process()
    assert (p.log_level, p.smtp_sink, p.sms_sink, p.sms_sink_port) == ("WARNING", False, True, 2526)


@pytest.mark.parametrize(
    ("name", "value"), [("OCOP_LOG_LEVEL", "LOUD"), ("OCOP_SMTP_SINK", "no"), ("OCOP_SMS_SINK_PORT", "70000")]
)
def test_a_bad_process_setting_stops_the_start_naming_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        config.load_process()


def test_the_process_settings_are_read_once(monkeypatch):
    monkeypatch.setattr(config, "_process", None)
    monkeypatch.setenv("OCOP_LOG_LEVEL", "DEBUG")
    first = config.process()
    monkeypatch.setenv("OCOP_LOG_LEVEL", "ERROR")
    assert config.process() is first and first.log_level == "DEBUG"
