"""deploy/nginx/ocop.conf made runnable on this machine for the tests: only the upstream addresses,
the listening ports and the file paths are replaced (each replacement must find its text, so the test
breaks when the file drifts), and a self-signed certificate is made at test time."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "deploy" / "nginx" / "ocop.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def require_nginx() -> None:
    if not Path(NGINX).exists():
        if os.environ.get("OCOP_REQUIRE_NGINX"):
            pytest.fail("OCOP_REQUIRE_NGINX is set but there is no nginx (apt-get install nginx)")
        pytest.skip("no nginx (apt-get install nginx)")


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    crt, pem = tmp / "ocop.crt", tmp / "ocop.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return crt, pem


def render(tmp: Path, upstreams: dict[str, str], https_port: int, http_port: int) -> Path:
    """The config with this machine's addresses; ``upstreams``: service -> host:port."""
    tmp.mkdir(parents=True, exist_ok=True)
    crt, key = self_signed(tmp)
    text = CONF.read_text(encoding="utf-8")
    replacements = {
        "server registry-api:8001;": f"server {upstreams['registry']};",
        "server events-api:8002;": f"server {upstreams['events']};",
        "server notifications-api:8003;": f"server {upstreams['notifications']};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "/etc/nginx/tls/ocop.crt": str(crt),
        "/etc/nginx/tls/ocop.key": str(key),
        "access_log /dev/stdout ocop;": f"access_log {tmp / 'access.log'} ocop;",
        "error_log /dev/stderr warn;": f"error_log {tmp / 'error.log'} warn;",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"deploy/nginx/ocop.conf no longer has {old!r}"
        text = text.replace(old, new)
    conf = tmp / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def command(conf: Path, *extra: str, foreground: bool = False) -> list[str]:
    """nginx on ``conf``, its pid and startup errors beside it, workers as www-data when there is one."""
    globals_ = f"pid {conf.parent / 'nginx.pid'}; error_log {conf.parent / 'startup.log'};"
    if foreground:
        globals_ += " daemon off;"
    try:
        pwd.getpwnam("www-data")
        globals_ += " user www-data;"
    except KeyError:
        pass
    return [NGINX, "-c", str(conf), "-p", str(conf.parent), "-g", globals_, *extra]


def check(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command(conf, "-t"), capture_output=True, text=True, timeout=60)
