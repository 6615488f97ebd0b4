"""The real deployment's one origin: nginx (deploy/nginx/ocop.conf, a self-signed certificate made now)
started as a process in front of the gunicorn processes, and one API call and one page through it:
HTTPS, the prefixes, the headers, and an access log without the query string."""

from __future__ import annotations

import subprocess

import pytest
import requests
from e2e.deployment import Deployment, Processes, process_env, real_env
from nginx_conf import command, render, require_nginx
from support import SERVICES, free_port, wait_for

from shared import auth


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, vhost_url):
    require_nginx()
    tmp = tmp_path_factory.mktemp("e2e-nginx")
    env = process_env(real_env(tmp, "e2enginx", vhost_url))
    procs = Processes(tmp / "logs")
    nginx = None
    try:
        dep = Deployment(procs, env).start(workers=())
        https, http = free_port(), free_port()
        upstreams = {s: dep.urls[s].removeprefix("http://") for s in SERVICES}
        conf = render(tmp / "nginx", upstreams, https_port=https, http_port=http)
        nginx = subprocess.Popen(command(conf, foreground=True), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        origin = f"https://localhost:{https}"
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override the verify below
        session.verify = str(conf.parent / "ocop.crt")

        def up():
            assert nginx.poll() is None, nginx.stdout.read().decode()
            try:
                return session.get(origin + "/registry/livez", timeout=5).status_code == 200
            except requests.RequestException as exc:
                print("nginx not answering yet:", exc)
                return False

        wait_for(up, timeout=30, interval=0.2, message="nginx in front")
        yield dep, origin, session, conf.parent, http
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
            nginx.stdout.close()
        procs.kill_all()
        print(procs.report())


@pytest.mark.real_only
def test_an_api_call_through_nginx(proxied):
    dep, origin, session, logs, http = proxied
    token = dep.client.token("trade_officer")
    r = session.get(
        f"{origin}/events/fairs?limit=5&secret=hunter2", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), (list, dict))
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "nginx/" not in r.headers.get("Server", "")
    # the plain port sends to HTTPS; the root to the console
    plain = requests.get(f"http://127.0.0.1:{http}/events/fairs", allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    home = session.get(origin + "/", allow_redirects=False, timeout=10)
    assert home.status_code == 302 and home.headers["Location"].endswith("/registry/console/")
    too_big = session.post(f"{origin}/events/fairs", data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert too_big.status_code == 413

    def logged():
        text = (logs / "access.log").read_text()
        return text if "/events/fairs" in text else None

    log = wait_for(logged, message="the access log line")
    assert "secret=hunter2" not in log and "limit=5" not in log and "?" not in log


@pytest.mark.real_only
def test_a_page_through_nginx_has_prefixed_links(proxied):
    _, origin, session, _, _ = proxied
    css = session.get(origin + "/registry/console/static/console.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    if not hasattr(auth, "page"):
        pytest.skip("no sign-in page until shared.auth.page lands (issue 13, accounts)")
    page = session.get(origin + "/", timeout=10)  # / -> /registry/console/ -> the sign-in page
    assert page.status_code == 200, page.text[:300]
    assert "text/html" in page.headers["Content-Type"]
    assert 'href="/registry/console/static/console.css"' in page.text  # url_for behind the prefix
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
