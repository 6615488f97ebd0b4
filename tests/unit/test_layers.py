"""The import-layering contract (.importlinter, run by import-linter's ``lint-imports``): no service
imports another, shared/ imports no service, domain modules import neither Flask nor SQLAlchemy.
The contract is checked on the tree, and shown to catch each kind of violation on a small tree that
breaks all three."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support import ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_tree_keeps_the_import_layering_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    for name in (
        "No service imports another",
        "shared/ imports no service",
        "Domain modules import neither Flask nor SQLAlchemy",
    ):
        assert f"{name}" in done.stdout and "KEPT" in done.stdout.split(name, 1)[1].splitlines()[0]


def test_the_contract_catches_each_kind_of_violation(tmp_path):
    files = {
        "services/__init__.py": "",
        "services/registry/__init__.py": "",
        "services/registry/domain.py": "import flask\nimport sqlalchemy\n",  # a domain module on Flask and SQLAlchemy
        "services/events/__init__.py": "",
        "services/events/operations.py": "from services.registry import domain\n",  # a service importing another
        "services/notifications/__init__.py": "",
        "shared/__init__.py": "",
        "shared/web.py": "import services.events.operations\n",  # shared/ importing a service
    }
    for name in ("reference", "text", "retry", "context", "errors", "instants", "contracts/__init__"):
        files.setdefault(f"shared/{name}.py", "")  # the pure shared modules the contract names
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 kept, 3 broken" in done.stdout
    assert "services.registry.domain is not allowed to import flask" in done.stdout
    assert "services.registry.domain is not allowed to import sqlalchemy" in done.stdout
    assert "shared is not allowed to import services" in done.stdout
    assert "services.events is not allowed to import services.registry" in done.stdout
