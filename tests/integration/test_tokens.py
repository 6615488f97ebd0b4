"""Issue 10: a revoked token is refused by all three services within seconds (the deny list fed by
``registry.token.revoked``), and an endpoint that requires a role checks the token before anything
reads the request body."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import jwt
import pytest
import requests
from support import ROOT, wait_for

PROBES = {"registry": "/statistics", "events": "/fairs", "notifications": "/deliveries"}


def _status(api, service: str, token: str) -> int:
    return requests.get(
        api.urls[service] + PROBES[service], headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def _jti(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_revoked_token_gets_401_everywhere_and_others_still_work(api):
    revoked, kept = api.token("trade_officer", "lan.nguyen"), api.token("trade_officer", "minh.tran")
    for service in PROBES:
        assert _status(api, service, revoked) == 200 and _status(api, service, kept) == 200
    claims = _jti(revoked)

    body = {"jti": claims["jti"], "exp": claims["exp"], "reason": "laptop stolen"}
    assert api.call("POST", "registry", "/tokens/revocations", "trade_officer", json=body).status_code == 403
    assert api.call("POST", "registry", "/tokens/revocations", json=body).status_code == 401
    r = api.call("POST", "registry", "/tokens/revocations", "admin", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["jti"] == claims["jti"] and r.json()["new"] is True
    again = api.call("POST", "registry", "/tokens/revocations", "admin", json=body)
    assert again.status_code == 200 and again.json()["new"] is False

    for service in PROBES:
        wait_for(lambda s=service: _status(api, s, revoked) == 401, timeout=30, message=f"{service} refuses it")
        r = requests.get(
            api.urls[service] + PROBES[service], headers={"Authorization": f"Bearer {revoked}"}, timeout=10
        )
        assert r.json()["message"] == "token revoked"
        assert _status(api, service, kept) == 200


def test_revocation_field_errors(api):
    r = api.call("POST", "registry", "/tokens/revocations", "admin", json={"jti": "", "exp": 10**12})
    assert r.status_code == 422
    assert set(r.json()["errors"]["json"]) == {"jti", "exp", "reason"}


def test_revoke_token_command(platform, api):
    token = api.token("trade_officer", "hoa.le")
    assert _status(api, "events", token) == 200
    assert re.fullmatch(r"[0-9a-f]{32}", _jti(token)["jti"])  # an id a command line cannot take for an option
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.registry.manage",
            "revoke-token",
            "--reason",
            "left the office",
            "--",  # whatever the id starts with
            _jti(token)["jti"],
        ],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new"] is True
    for service in PROBES:
        wait_for(lambda s=service: _status(api, s, token) == 401, timeout=30, message=f"{service} refuses it")


class _Untouchable(io.RawIOBase):
    """A request body that records whether anything read it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        self.read_bytes += len(buffer)
        buffer[:1] = b"{"
        return 1


@pytest.mark.parametrize("role,status", [(None, 401), ("producer", 403)])
def test_the_token_is_checked_before_the_body_is_read(platform, api, role, status):
    """A body within the size limit (larger ones get 413 unread), anonymous or from a role not
    admitted: answered without reading a byte of it (the JSON check and webargs come after)."""
    from werkzeug.test import create_environ, run_wsgi_app

    body = _Untouchable()
    environ = create_environ("/producers", method="POST", content_type="application/json")
    environ.update({"wsgi.input": body, "CONTENT_LENGTH": str(512 * 1024)})
    if role:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {api.token(role, 'p-1')}"
    app_iter, status_line, _ = run_wsgi_app(platform.apps["registry"], environ, buffered=True)
    answer = json.loads(b"".join(app_iter))
    assert int(status_line.split()[0]) == status and answer["code"] == status, answer
    assert body.read_bytes == 0


def test_a_malformed_body_with_a_valid_token_is_still_a_400(platform, api):
    client = platform.apps["events"].test_client()
    r = client.post(
        "/fairs",
        data=b'{"name": ',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api.token('trade_officer')}"},
    )
    assert r.status_code == 400 and r.get_json()["code"] == 400
