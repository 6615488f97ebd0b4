"""The three services' management commands (``python -m services.<svc>.manage``, shared/manage.py):
every command answers ``--help`` without a database, a broker or a secret; bad options are usage
errors (exit 2) naming the option; ``migrate`` needs no secret, the commands that open the service do."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "events", "notifications")
COMMANDS = {  # the commands the docs and the deployment use: they must stay
    "registry": {
        "migrate",
        "revision",
        "downgrade",
        "sweep",
        "import",
        "replay",
        "revoke-token",
        "create-admin",
        "token-keys",
    },
    "events": {"migrate", "revision", "downgrade", "expire", "rebuild-read-model"},
    "notifications": {"migrate", "revision", "downgrade", "remind"},
}


def cli(service: str):
    return importlib.import_module(f"services.{service}.manage").cli


def test_every_service_has_its_commands():
    assert {s: set(cli(s).commands) for s in SERVICES} == COMMANDS


@pytest.mark.parametrize(("service", "command"), sorted((s, c) for s, cs in COMMANDS.items() for c in cs))
def test_every_command_has_help(service, command):
    done = CliRunner().invoke(cli(service), [command, "--help"], obj=_no_app())
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"Usage: python -m services.{service}.manage {command} ")
    described = done.output.split("\n\n")[1].strip()
    assert len(described) > 20, done.output  # a sentence, not a blank


def _no_app():
    from flask.cli import ScriptInfo

    def refuse():
        raise AssertionError("--help must not make the app")

    return ScriptInfo(create_app=refuse, set_debug_flag=False, load_dotenv_defaults=False)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A real-like environment (a broker URL that is never reached), without a secret."""
    base = {
        k: v for k, v in os.environ.items() if not (k.startswith(("OCOP_", "SMTP_")) or k.endswith("_DATABASE_URL"))
    }
    return {
        **base,
        "OCOP_DATA_DIR": str(tmp_path),
        "OCOP_BROKER_URL": "amqp://registry:unused@127.0.0.1:1/ocop",
        **{f"{s.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / s}.sqlite" for s in SERVICES},
        **extra,
    }


def _run(env, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("service", SERVICES)
def test_the_module_lists_its_commands(service, tmp_path):
    done = _run(_env(tmp_path), f"services.{service}.manage", "--help")
    assert done.returncode == 0, done.stderr
    assert all(f"  {c} " in done.stdout for c in COMMANDS[service]), done.stdout


def test_migrate_needs_no_secret_and_the_others_refuse_without_one(tmp_path):
    env = _env(tmp_path)
    done = _run(env, "services.registry.manage", "migrate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "registry: database at head"
    assert (tmp_path / "registry.sqlite").stat().st_size > 0
    refused = _run(env, "services.registry.manage", "sweep")
    assert refused.returncode == 1
    assert "Error: OCOP_SECRET_KEY is not set" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["registry", "nonsense"], "No such command 'nonsense'"),
        (["registry", "replay", "--chunk", "0"], "Invalid value for '--chunk'"),
        (["registry", "replay", "--since", "hôm qua"], "not a date or date-time: 'hôm qua'"),
        (["registry", "revoke-token", "abc"], "Missing option '--reason'"),
        (["registry", "import"], "Missing argument 'FILE'"),
        (["notifications", "remind", "--at", "2025-10-28T09:00:00"], "needs a time zone"),
        (["events", "expire", "--now"], "No such option '--now'"),
    ],
)
def test_bad_invocations_are_usage_errors_naming_what_is_wrong(argv, says):
    service, *args = argv
    done = CliRunner().invoke(cli(service), args, obj=_no_app())
    assert done.exit_code == 2 and says in done.output, done.output
