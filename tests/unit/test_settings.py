"""Configuration comes from one place: only shared/config.py reads the environment (Settings, read
when a process starts, or config.env / config.positive where a setting is read at use), and every
variable the code reads is documented in the configuration table (docs/, or the README)."""

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


@pytest.mark.parametrize(("value", "expected"), [("", 7), ("  ", 7), ("16_777_216", 16_777_216), ("3", 3)])
def test_a_positive_setting(monkeypatch, value, expected):
    monkeypatch.setenv("OCOP_SOME_LIMIT", value)
    assert config.positive("OCOP_SOME_LIMIT", 7) == expected


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1.5"])
def test_a_positive_setting_refuses_anything_else_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("OCOP_SOME_LIMIT", value)
    with pytest.raises(ValueError, match="OCOP_SOME_LIMIT must be a whole number of at least 1"):
        config.positive("OCOP_SOME_LIMIT", 7)
