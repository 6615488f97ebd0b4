"""An in-process platform (the embedded Host) for the integration suite, in either mode."""

from __future__ import annotations

import os

import pytest
import requests
from support import platform_env


class Api:
    """Tiny HTTP client with role tokens, speaking to the services over real sockets."""

    def __init__(self, urls: dict[str, str], secret: str):
        self.urls = urls
        self.secret = secret
        self.http = requests.Session()

    def token(self, role: str, sub: str | None = None, ttl: int | None = None) -> str:
        """A token for ``role``; ``sub`` defaults to a test person named after the role."""
        from shared.auth import issue_token

        return issue_token(self.secret, role, sub or f"test-{role}", ttl)

    def call(self, method: str, service: str, path: str, role: str | None = None, sub: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.token(role, sub)}"
        return self.http.request(method, self.urls[service] + path, headers=headers, timeout=30, **kw)


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("platform")
    env = platform_env(tmp, "it")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from embedded.host import Host

    host = Host().start(demo=False)
    host.api = Api(host.urls(), env["OCOP_SECRET_KEY"])
    yield host
    host.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def api(platform) -> Api:
    return platform.api
