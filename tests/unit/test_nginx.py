"""deploy/nginx/ocop.conf passes nginx's own check (``nginx -t``), and says what docs/console.md says:
the same prefixes as the embedded origin, TLS, the body limits of the services, no query string in the
access log. The e2e tier runs it in front of the processes (tests/e2e/test_nginx.py)."""

from __future__ import annotations

import re

from nginx_conf import CONF, check, render, require_nginx
from support import free_port


def test_nginx_accepts_the_config(tmp_path):
    require_nginx()
    conf = render(
        tmp_path,
        {"registry": "127.0.0.1:18001", "events": "127.0.0.1:18002", "notifications": "127.0.0.1:18003"},
        https_port=free_port(),
        http_port=free_port(),
    )
    done = check(conf)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


def test_the_config_routes_the_prefixes_with_tls_and_the_limits():
    text = CONF.read_text(encoding="utf-8")
    for prefix, upstream in (("registry", "registry"), ("events", "events"), ("notifications", "notifications")):
        assert f"location /{prefix}/ {{\n            proxy_pass http://{upstream}/;" in text
    assert "location /r/ {\n            proxy_pass http://notifications;" in text
    assert "return 302 /registry/console/;" in text
    assert "listen 443 ssl;" in text and "return 301 https://" in text and "Strict-Transport-Security" in text
    ops = (CONF.parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    default = {name: int(v) for name, v in re.findall(r"\| `(OCOP_\w+)` \| `(\d+)` \|", ops)}
    assert default["OCOP_MAX_BODY_BYTES"] == 1024 * 1024 and "client_max_body_size 1m;" in text
    assert default["OCOP_IMPORT_MAX_BYTES"] == 16 * 1024 * 1024 and "client_max_body_size 16m;" in text
    log_format = re.search(r"log_format ocop (.*?);", text, re.S).group(1)
    assert "$request " not in log_format and "$request_uri" not in log_format and "$args" not in log_format
