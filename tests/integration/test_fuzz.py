"""schemathesis against each service's OpenAPI document, as served, with valid tokens of every role:
no server error (5xx), every response's status code documented for its operation, its content
type and body as documented (response schema conformance).

The platform is one of its own (``fuzz_host.py``, in a child process): its own data dir and
SQLite files, or its own PostgreSQL databases and RabbitMQ vhost in real mode, seeded with a few
producers, certified products and fairs so that operations reach real code paths; it cannot reach
the network (no webhook or email leaves the machine) and cannot disturb the other tests.

Bounded: ``OCOP_FUZZ_EXAMPLES`` examples per operation (100 by default), and ``OCOP_FUZZ_TIMEOUT``
seconds per service (300) through pytest-timeout; about a minute for the three on two cores.
Run alone with ``scripts/test -m fuzz``; the suite runs it in both modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from support import ROOT, TEST_TOKEN_KEY, real_mode, wait_for

from shared.auth import issue_token

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(int(os.environ.get("OCOP_FUZZ_TIMEOUT", "300")))]

SERVICES = ("registry", "events", "notifications")
ROLES = ("admin", "trade_officer", "registry_officer", "producer", "integration")
EXAMPLES = int(os.environ.get("OCOP_FUZZ_EXAMPLES", "100"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PROVINCE = "Bình Định"  # the seeded fairs invite from here


# ---- the platform -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    """The environment of the fuzz platform: fresh data, free ports, and in real mode its own databases
    on a private vhost."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if not real_mode():
        from support import platform_env

        saved = os.environ.get("OCOP_BROKER_URL")
        env = platform_env(tmp, "fuzz")
        assert os.environ.get("OCOP_BROKER_URL") == saved
        yield tmp, env
        return
    from e2e.deployment import PYTHON, create_vhost, delete_vhost, process_env, real_env, run

    name = f"ocop_fuzz_{os.getpid()}"
    vhost = create_vhost(os.environ["OCOP_BROKER_URL"], name)
    try:
        run([PYTHON, "-m", "shared.bus.cli", "setup"], process_env({"OCOP_BROKER_URL": vhost}), timeout=120)
        yield tmp, real_env(tmp, "fuzz", vhost)
    finally:
        delete_vhost(name)


@pytest.fixture(scope="module")
def fuzz_platform(fuzz_env):
    from e2e.deployment import process_env

    tmp, env = fuzz_env
    log = open(tmp / "platform.log", "wb")  # noqa: SIM115 - closed at teardown
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fuzz_host.py"))],
        cwd=ROOT,
        env=process_env(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        line = child.stdout.readline()
        assert line, f"the fuzz platform did not start: {(tmp / 'platform.log').read_text()[-3000:]}"
        urls = json.loads(line)
        platform = Seeded(urls, tmp / "platform.log")
        platform.seed()
        yield platform
    finally:
        child.stdin.close()
        child.stdout.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()


class Seeded:
    """The fuzz platform's URLs, tokens and the ids of the data seeded in it."""

    def __init__(self, urls: dict[str, str], log: Path):
        self.urls, self.log = urls, log
        self.http = requests.Session()
        self.known: dict[str, str] = {}
        self.producer_id = ""

    def token(self, role: str) -> str:
        return issue_token(TEST_TOKEN_KEY, role, self.producer_id if role == "producer" else f"fuzz-{role}")

    def call(self, method: str, service: str, path: str, role: str, **kw):
        r = self.http.request(
            method, self.urls[service] + path, timeout=30, headers={"Authorization": f"Bearer {self.token(role)}"}, **kw
        )
        assert r.ok, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content and r.headers.get("Content-Type", "").startswith("application/json") else r

    def seed(self) -> None:
        """Three producers with certified products, a draft fair, a fair inviting them (so there are
        invitations, deliveries and a producer's calendar), and a webhook subscription."""
        producers = []
        for n in range(3):
            code = f"FZ-{uuid.uuid4().hex[:6]}"
            p = self.call(
                "POST",
                "registry",
                "/producers",
                "registry_officer",
                json={
                    "code": code,
                    "name": f"Hợp tác xã Fuzz {n}",
                    "kind": "cooperative",
                    "province": PROVINCE,
                    "email": f"{code.lower()}@example.vn",
                    "phone": f"+8490{n}123456",
                    "consent": {"email": True, "sms": n == 0},
                },
            )
            product = self.call(
                "POST",
                "registry",
                "/products",
                "registry_officer",
                json={"producer_id": p["id"], "name": f"Nước mắm Fuzz {n}", "group": 1},
            )
            cert = self.call(
                "POST",
                "registry",
                "/certifications",
                "registry_officer",
                json={
                    "product_id": product["id"],
                    "score": 75 + n,
                    "issued_by": "UBND tỉnh",
                    "decision_number": f"{n + 1}/QĐ-UBND",
                    "decision_date": "2025-07-20",
                },
            )
            producers.append((p, product, cert))
        self.producer_id = producers[0][0]["id"]
        self.known.update(
            producer_id=self.producer_id, product_id=producers[0][1]["id"], certification_id=producers[0][2]["id"]
        )

        def catalogued():
            return all(
                self.http.get(
                    f"{self.urls['events']}/catalogue/{product['id']}",
                    timeout=10,
                    headers={"Authorization": f"Bearer {self.token('trade_officer')}"},
                ).ok
                for _, product, _ in producers
            )

        wait_for(catalogued, timeout=60, interval=0.2, message="the seeded products in the events read model")
        starts = datetime.now(UTC).date() + timedelta(days=60)
        fairs = []
        for name in ("Hội chợ Fuzz nháp", "Hội chợ Fuzz"):
            fairs.append(
                self.call(
                    "POST",
                    "events",
                    "/fairs",
                    "trade_officer",
                    json={
                        "name": name,
                        "organiser": "Sở Công Thương",
                        "organiser_kind": "trade_department",
                        "host_province": "Gia Lai",
                        "region": "central_highlands",
                        "venue": "Nhà văn hóa",
                        "starts_on": starts.isoformat(),
                        "ends_on": (starts + timedelta(days=3)).isoformat(),
                        "capacity": 5,
                        "invitation_deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                        "subsidy_per_booth": 8_000_000,
                        "budget": 100_000_000,
                        "rules": {"min_stars": 3, "provinces": [PROVINCE]},
                    },
                )
            )
        self.call("POST", "events", f"/fairs/{fairs[1]['id']}/publish", "trade_officer")
        self.known["fair_id"] = fairs[1]["id"]
        invitations = wait_for(
            lambda: self.call("GET", "events", f"/fairs/{fairs[1]['id']}/invitations", "trade_officer"),
            timeout=30,
            message="invitations",
        )
        self.known["invitation_id"] = invitations[0]["id"]
        deliveries = wait_for(
            lambda: self.call("GET", "notifications", "/deliveries", "trade_officer"),
            timeout=60,
            message="deliveries of the invitations",
        )
        self.known["delivery_id"] = deliveries[0]["id"]
        hook = self.call(
            "POST",
            "notifications",
            "/webhooks",
            "integration",
            json={"url": "https://93.184.215.14/ocop", "event_types": ["events.fair.published"]},
        )
        self.known.update(subscription_id=hook["id"], province=PROVINCE, host_province="Gia Lai")


# ---- the fuzzing --------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=SERVICES)
def fuzz_schema(request, fuzz_platform):
    return schemathesis.openapi.from_url(fuzz_platform.urls[request.param] + "/openapi.json", timeout=10)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


def _pick(case) -> tuple[str, bool]:
    """The role a case is sent as, and whether it names the seeded records: drawn from the case itself,
    so that a failing case replays (and shrinks) as the same request. Not a ``given`` strategy: with
    one, schemathesis skips its coverage phase (boundary values, missing and wrong-typed fields)."""
    text = repr((case.method, case.path, case.path_parameters, case.query, case.body))
    n = zlib.crc32(text.encode("utf-8", "backslashreplace"))
    return ROLES[n % len(ROLES)], n // len(ROLES) % 2 == 0


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, fuzz_platform):
    """Any role, any input: no 5xx, and the status, content type and body the document gives."""
    role, known = _pick(case)
    if known:  # half the cases name the seeded records and a real province, to get past 404s and 422s
        values = fuzz_platform.known
        case.path_parameters = {k: values.get(k, v) for k, v in (case.path_parameters or {}).items()}
        if isinstance(case.query, dict):
            case.query = {k: values.get(k, v) for k, v in case.query.items()}
        if isinstance(case.body, dict):
            case.body = {k: values.get(k, v) for k, v in case.body.items()}
    try:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {fuzz_platform.token(role)}"}, checks=CHECKS, timeout=30
        )
    except Exception:
        print(f"as {role}; the platform's log ends:\n{fuzz_platform.log.read_text()[-4000:]}")
        raise
