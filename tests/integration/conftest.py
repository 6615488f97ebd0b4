"""An in-process platform (the embedded Host) for the integration suite, in either mode.

The platform is shared by the whole session (one start, about a second embedded and more on
RabbitMQ and PostgreSQL), so what a test module writes must not reach the next: a fair invites, and
tops up, every product its rules admit, so every fair a module makes through the API is closed when
the module ends (``fairs_end_with_their_module``): no later certification is topped up into it and no
later module's producer receives its letters. A module that needs this per test uses
``fairs_end_with_their_test``.
"""

from __future__ import annotations

import os

import pytest
import requests
from support import platform_env


class Api:
    """Tiny HTTP client with role tokens, speaking to the services over real sockets. It remembers
    the fairs it made (``fairs``), so that they can be closed when their module or test ends."""

    def __init__(self, urls: dict[str, str], token_key: str):
        self.urls = urls
        self.token_key = token_key  # the issuer's private key (PEM): the tests mint as the registry would
        self.http = requests.Session()
        self.fairs: list[str] = []

    def close_fairs(self) -> None:
        """Close the fairs made since the last call that are still inviting (others are left as they are)."""
        made, self.fairs = self.fairs, []
        for fair_id in made:
            r = self.call("GET", "events", f"/fairs/{fair_id}", "trade_officer")
            if r.ok and r.json()["status"] == "inviting":
                closed = self.call("POST", "events", f"/fairs/{fair_id}/close", "trade_officer")
                assert closed.status_code in (200, 409), closed.text  # 409: it stopped inviting meanwhile

    def token(self, role: str, sub: str | None = None, ttl: int | None = None) -> str:
        """A token for ``role``; ``sub`` defaults to a test person named after the role."""
        from shared.auth import issue_token

        return issue_token(self.token_key, role, sub or f"test-{role}", ttl)

    def call(self, method: str, service: str, path: str, role: str | None = None, sub: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.token(role, sub)}"
        response = self.http.request(method, self.urls[service] + path, headers=headers, timeout=30, **kw)
        if (method, service, path, response.status_code) == ("POST", "events", "/fairs", 201):
            self.fairs.append(response.json()["id"])
        return response


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("platform")
    env = platform_env(tmp, "it")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from embedded.host import Host

    host = Host().start(demo=False)
    host.api = Api(host.urls(), env["OCOP_TOKEN_PRIVATE_KEY"])
    _started.append(host)
    yield host
    _started.clear()
    host.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


_started: list = []  # the session's platform, once a module asked for it


@pytest.fixture(scope="module", autouse=True)
def fairs_end_with_their_module():
    yield
    for host in _started:
        host.api.close_fairs()


@pytest.fixture
def fairs_end_with_their_test(platform):
    yield
    platform.api.close_fairs()


@pytest.fixture
def api(platform) -> Api:
    return platform.api
