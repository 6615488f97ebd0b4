"""Issue 10 as an operator meets it: outside the embedded default gunicorn, a worker and the token
command refuse to start without a strong OCOP_SECRET_KEY, naming it and how to make one; the
embedded demo needs no variable; gunicorn's access log carries no credential. Processes are started
as the README and docker-compose.yml start them; none needs a broker (they stop before connecting,
or run on the embedded one)."""

from __future__ import annotations

import subprocess

import pytest
import requests
from e2e.deployment import GUNICORN, PYTHON, ROOT, SECRET, process_env
from support import TEST_TOKEN_KEY, TEST_TOKEN_PUBLIC_KEY, free_port, wait_for

REAL_LIKE = {"OCOP_BROKER_URL": "amqp://registry:unused@127.0.0.1:1/ocop"}  # never reached: refused before


def _db(tmp_path, service: str) -> dict[str, str]:
    return {
        f"{service.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / (service + '.sqlite')}",
        "OCOP_DATA_DIR": str(tmp_path),
    }


@pytest.mark.parametrize("secret", [None, "dev-only-secret-change-me", "change-me-in-production", "too-short"])
def test_gunicorn_refuses_to_start_without_a_strong_secret(tmp_path, procs, secret):
    env = process_env({**REAL_LIKE, **_db(tmp_path, "registry"), **({"OCOP_SECRET_KEY": secret} if secret else {})})
    port = free_port()
    proc = procs.start(
        "registry-api",
        [GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1", "services.registry.app:create_app()"],
        env,
    )
    assert proc.wait(timeout=60) != 0
    out = procs.tail("registry-api", 200)
    assert "OCOP_SECRET_KEY" in out and "secrets.token_urlsafe(48)" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "services.events.worker"],
        ["-m", "shared.auth", "admin", "root"],
        ["-m", "services.notifications.manage", "remind"],
    ],
)
def test_workers_and_commands_refuse_too(tmp_path, argv):
    env = process_env(
        {
            **REAL_LIKE,
            **_db(tmp_path, "events"),
            **_db(tmp_path, "notifications"),
            "OCOP_SECRET_KEY": "change-me-in-production",
        }
    )
    done = subprocess.run([PYTHON, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "OCOP_SECRET_KEY" in done.stderr and "secrets.token_urlsafe(48)" in done.stderr
    assert "eyJ" not in done.stdout  # no token printed


def test_the_token_command_on_the_embedded_demo_and_with_a_strong_secret(tmp_path):
    env = process_env({"OCOP_DATA_DIR": str(tmp_path)})  # the embedded default: no variable at all
    done = subprocess.run(
        [PYTHON, "-m", "shared.auth", "trade_officer"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("eyJ") and "sub=demo-trade_officer" in done.stderr and "jti=" in done.stderr
    real = process_env({**REAL_LIKE, "OCOP_SECRET_KEY": SECRET})
    done = subprocess.run(  # only where the issuer's private key is
        [PYTHON, "-m", "shared.auth", "integration", "erp-vinh-long"],
        cwd=ROOT,
        env=real,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "OCOP_TOKEN_PRIVATE_KEY" in done.stderr and not done.stdout
    real["OCOP_TOKEN_PRIVATE_KEY"] = TEST_TOKEN_KEY
    done = subprocess.run(
        [PYTHON, "-m", "shared.auth", "integration", "erp-vinh-long", "--ttl", "30d"],
        cwd=ROOT,
        env=real,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    from shared.auth import read_token

    claims = read_token(TEST_TOKEN_PUBLIC_KEY, done.stdout.strip())
    assert claims["sub"] == "erp-vinh-long" and claims["exp"] - claims["iat"] == 30 * 86400
    done = subprocess.run(
        [PYTHON, "-m", "shared.auth", "trade_officer"], cwd=ROOT, env=real, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "SUBJECT is required" in done.stderr  # a person is named outside the demo


def test_access_log_has_no_credentials(tmp_path, procs):
    """gunicorn as docker-compose runs it (--access-logfile -): answer links, their short codes,
    calendar feed tokens, Authorization headers and referers are redacted in the request lines."""
    env = process_env(
        {
            **_db(tmp_path, "notifications"),
            "OCOP_BROKER_URL": f"embedded://{tmp_path / 'b.sqlite'}",
            "OCOP_SECRET_KEY": SECRET,
        }
    )
    port = free_port()
    fmt = '%(h)s "%(r)s" %(s)s "%(f)s" "%({authorization}i)s" %(U)s %(q)s'
    procs.start(
        "notifications-api",
        [
            GUNICORN,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
            "--access-logformat",
            fmt,
            "--logger-class",
            "shared.logs.GunicornLogger",
            "services.notifications.app:create_app(migrate=True)",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(base + "/livez", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, timeout=60, message="notifications API up")
    link, code, feed, bearer = "eyJpbnYiOiJMSU5LU0VDUkVUIn0.LinkSig", "ShortC0de9", "FeedTokenSecret", "BearerSecret"
    requests.get(f"{base}/r/{link}?lang=en", timeout=10)
    requests.post(f"{base}/r/{link}", data={"answer": "accept"}, headers={"Referer": f"{base}/r/{link}"}, timeout=10)
    requests.get(f"{base}/r/s/{code}", timeout=10, allow_redirects=False)
    requests.get(f"{base}/livez?token={feed}", headers={"Authorization": f"Bearer {bearer}"}, timeout=10)

    def logged():
        text = procs.tail("notifications-api", 400)
        return text if text.count("[redacted]") >= 6 and "/livez" in text else None

    text = wait_for(logged, timeout=30, message="the access log lines")
    for secret in (link, code, feed, bearer, "LINKSECRET"):
        assert secret not in text, secret
    assert "GET /r/[redacted]?lang=en HTTP/1.1" in text


def test_gunicorn_conf_names_the_redacting_logger():
    """Started from the repository (or the image's /app), gunicorn reads gunicorn.conf.py."""
    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own config file
    assert namespace["logger_class"] == "shared.logs.GunicornLogger"
