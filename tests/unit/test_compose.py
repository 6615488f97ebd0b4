"""docker-compose.yml cannot run here (no Docker engine), so it is checked by parsing: every
service has an API and a worker, health checks gate start-up, commands name real modules, and
each service has its own database and broker user. tests/e2e runs the same commands as processes."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "events", "notifications")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]


def test_infrastructure_has_health_checks(compose):
    for name in ("rabbitmq", "postgres"):
        assert compose[name]["healthcheck"]["test"], name


@pytest.mark.parametrize("service", SERVICES)
def test_api_and_worker_per_service(compose, service):
    api, worker = compose[f"{service}-api"], compose[f"{service}-worker"]
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "rabbitmq": {"condition": "service_healthy"},
    }
    assert worker["depends_on"] == {f"{service}-api": {"condition": "service_healthy"}}
    assert "readyz" in " ".join(api["healthcheck"]["test"])
    command = " ".join(api["command"])
    assert f"python -m services.{service}.manage migrate && exec gunicorn" in command
    assert f"'services.{service}.app:create_app()'" in command
    assert worker["command"] == ["python", "-m", f"services.{service}.worker"]
    for module in (f"services.{service}.app", f"services.{service}.worker", f"services.{service}.manage"):
        assert importlib.util.find_spec(module) is not None, module


def test_each_service_has_its_own_database_and_broker_user(compose):
    dbs, users = set(), set()
    for service in SERVICES:
        for role in ("api", "worker"):
            env = compose[f"{service}-{role}"]["environment"]
            db = env[f"{service.upper()}_DATABASE_URL"]
            assert db.endswith(f"/{service}")
            user = re.match(r"amqp://([^:]+):", env["OCOP_BROKER_URL"]).group(1)
            assert user == service
            dbs.add(db)
            users.add(user)
    assert len(dbs) == len(users) == 3


def test_mounted_files_exist(compose):
    for name in ("rabbitmq", "postgres"):
        for volume in compose[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_notifications_worker_runs_two_replicas(compose):
    # CPU-bound Python: one process per core (bench/notify.py measures the same two replicas)
    assert compose["notifications-worker"]["deploy"]["replicas"] == 2
    assert "container_name" not in compose["notifications-worker"]  # a fixed name would allow one replica


def test_no_fallback_secret(compose):
    """Issue 10: docker-compose started with a published secret (anyone could mint an admin token).
    It must refuse to start without OCOP_SECRET_KEY, naming it and how to make one."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "change-me" not in text and "dev-only" not in text
    for name, service in compose.items():
        value = (service.get("environment") or {}).get("OCOP_SECRET_KEY")
        if value is None:
            continue
        assert re.fullmatch(r"\$\{OCOP_SECRET_KEY:\?[^}]*\}", value), (name, value)
        assert "secrets.token_urlsafe" in value
    for kind in ("api", "worker"):
        assert all("OCOP_SECRET_KEY" in compose[f"{s}-{kind}"]["environment"] for s in SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_access_log_redacts_credentials(compose, service):
    command = " ".join(compose[f"{service}-api"]["command"])
    assert "--access-logfile -" in command and "--logger-class shared.logs.GunicornLogger" in command
