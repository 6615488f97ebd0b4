"""The embedded console: it answers only requests addressed to it by a loopback name and its port
(or a configured one), 421 to any other Host, so a DNS-rebinding page cannot read its officers'
tokens; its pages carry the public-page headers; an email whose HTML carries markup and script is
shown with no script running, in a real browser."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from types import SimpleNamespace

import pytest
import requests
from support import TEST_TOKEN_KEY, free_port
from werkzeug.serving import make_server

from embedded.console import allowed_hosts, create_console
from embedded.mailsink import Mailbox
from shared import config

HOSTILE_HTML = (
    '<!doctype html><p id="shown">Kính gửi HTX</p><img src=x onerror="window.__xss=1">'
    '<script>window.__xss=2</script><a id="link" href="/dev/sms" style="color:#0a7d3b">Trả lời</a>'
)


@pytest.fixture
def console(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("OCOP_CONSOLE_PORT", str(port))
    monkeypatch.setattr(config, "_process", config.Process(console_hosts=frozenset({"ocop-console.internal:8443"})))
    mailbox = Mailbox(tmp_path / "mailbox.sqlite")
    msg = EmailMessage()
    msg["To"], msg["From"], msg["Subject"] = "htx@example.vn", "noreply@ocop.local", "Thư mời"
    msg.set_content("Kính gửi HTX")
    msg.add_alternative(HOSTILE_HTML, subtype="html")
    mailbox.store("noreply@ocop.local", ["htx@example.vn"], msg.as_bytes())
    host = SimpleNamespace(
        runtimes={
            "registry": SimpleNamespace(
                settings=SimpleNamespace(
                    secret_key="console-test-secret-0123456789abcdef0123456789abcdef", token_private_key=TEST_TOKEN_KEY
                )
            )
        },
        mailbox=mailbox,
        smsbox=None,
        urls=lambda: {"console": f"http://127.0.0.1:{port}", "registry": "http://127.0.0.1:8001"},
    )
    server = make_server("127.0.0.1", port, create_console(host), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port, mail_id=mailbox.list(1)[0][0])
    server.shutdown()


def test_only_the_consoles_own_names_are_answered(console):
    for name in (
        f"127.0.0.1:{console.port}",
        f"localhost:{console.port}",
        f"[::1]:{console.port}",
        "ocop-console.internal:8443",
    ):
        r = requests.get(console.url + "/dev/", headers={"Host": name}, timeout=10)
        assert r.status_code == 200 and "registry_officer" in r.text, name
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
    for name in (
        "evil.example",
        f"evil.example:{console.port}",
        "127.0.0.1",
        f"127.0.0.1:{console.port + 1}",
        f"rebind.127.0.0.1.nip.io:{console.port}",
        "",
    ):
        for path in ("/dev/", "/dev/mail", f"/dev/mail/{console.mail_id}"):
            r = requests.get(console.url + path, headers={"Host": name}, timeout=10)
            assert r.status_code == 421 and "registry_officer" not in r.text and "eyJ" not in r.text, (name, path)


def test_the_configured_hosts_are_read_from_the_environment(monkeypatch):
    monkeypatch.setattr(config, "_process", None)  # this process's settings, read at its start
    monkeypatch.setenv("OCOP_CONSOLE_HOSTS", " Console.Example:443 ,, other:8000")
    assert allowed_hosts(8000) == {
        "127.0.0.1:8000",
        "localhost:8000",
        "[::1]:8000",
        "console.example:443",
        "other:8000",
    }


def test_an_email_with_script_shows_without_running_it(console, page, shot):
    r = page.goto(f"{console.url}/dev/mail/{console.mail_id}")
    assert "sandbox" in r.headers["content-security-policy"]
    assert page.inner_text("#shown") == "Kính gửi HTX"
    assert page.evaluate("window.__xss") is None and page.dialogs == []
    assert page.locator("#link").evaluate("a => getComputedStyle(a).color") == "rgb(10, 125, 59)"  # styled
    shot(page, "console-mail-hostile")
    with page.expect_navigation():
        page.click("#link")  # its links still lead on (an answer link, in the demo)
    assert page.url == f"{console.url}/dev/sms"
    assert page.locator("code").count() == 3  # the demo tokens, on the console's own page
