"""The sign-in page (services/registry/account_pages.py) in Chromium at 360 and 1280 px: Vietnamese
first, a missing field and a wrong password said beside the field, the English switch, the lock-out
message, and a signed-in officer sent on to the page it asked for; screenshots sign-in-*."""

from __future__ import annotations

import dataclasses
import secrets
import threading

import pytest
from support import TEST_SECRET, TEST_TOKEN_KEY, TEST_TOKEN_PUBLIC_KEY, free_port
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

PASSWORD = "mật-khẩu-" + secrets.token_urlsafe(8)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    from services.registry import accounts
    from services.registry.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    tmp = tmp_path_factory.mktemp("sign-in")
    settings = dataclasses.replace(
        load("registry"),
        database_url=f"sqlite:///{tmp / 'registry.sqlite'}",
        secret_key=TEST_SECRET,
        token_private_key=TEST_TOKEN_KEY,
        token_public_key=TEST_TOKEN_PUBLIC_KEY,
    )
    registry = create_app(settings=settings, migrate=True)
    with runtime_of(registry).transaction() as s:
        for who in ("lan", "khoa-phone", "khoa-desktop", "admin"):
            accounts.create(
                s,
                email=f"{who}@sct.vinhlong.gov.vn",
                name="Nguyễn Thị Lan",
                role="admin" if who == "admin" else "registry_officer",
                password=PASSWORD,
                scope_id="so-cong-thuong-vinh-long",
                scope_name="Sở Công Thương Vĩnh Long",
            )
    port = free_port()
    server = make_server(
        "127.0.0.1", port, DispatcherMiddleware(Response("not found", 404), {"/registry": registry}), threaded=True
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    runtime_of(registry).engine.dispose()


def _submit(page):
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def test_sign_in_says_what_is_wrong_beside_the_field_then_lets_the_officer_in(origin, page, shot):
    page.goto(f"{origin}/registry/console/products?q=keo")
    assert "/registry/console/sign-in" in page.url
    assert page.locator("html").get_attribute("lang") == "vi" and page.locator("h1").inner_text() == "Đăng nhập"
    shot(page, "sign-in")
    _submit(page)
    assert page.locator("#email-error").inner_text() == "Hãy nhập thư điện tử."
    assert page.locator("#email").get_attribute("aria-describedby") == "email-error"
    page.fill("#email", "lan@sct.vinhlong.gov.vn")
    page.fill("#password", "sai-mat-khau-roi")
    _submit(page)
    assert "Thư điện tử hoặc mật khẩu không đúng." in page.locator("#password-error").inner_text()
    assert page.locator("#email").input_value() == "lan@sct.vinhlong.gov.vn"  # kept; the password is not
    shot(page, "sign-in-error")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
    page.locator(".lang a", has_text="EN").click()
    page.wait_for_url("**lang=en")
    assert page.locator("h1").inner_text() == "Sign in"
    page.locator(".lang a", has_text="VI").click()
    page.wait_for_url("**lang=vi")
    page.goto(f"{origin}/registry/console/products?q=keo")  # the language links keep the path only
    page.fill("#email", "lan@sct.vinhlong.gov.vn")
    page.fill("#password", PASSWORD)
    _submit(page)
    assert page.url == f"{origin}/registry/console/products?q=keo"  # where it was going
    cookie = next(c for c in page.context.cookies() if c["name"] == "ocop_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert page.script_errors == []


def test_five_wrong_passwords_lock_the_account(origin, page, shot):
    email = f"khoa-{page.form_factor}@sct.vinhlong.gov.vn"
    page.goto(f"{origin}/registry/console/sign-in")
    for _ in range(5):
        page.fill("#email", email)
        page.fill("#password", "sai-mat-khau-roi")
        _submit(page)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    _submit(page)
    assert "tài khoản bị khóa đến" in page.locator("#password-error").inner_text()
    shot(page, "sign-in-locked")


def test_the_administrator_adds_an_account_and_reads_the_audit_log(origin, page, shot):
    page.goto(f"{origin}/registry/console/accounts")
    page.fill("#email", "admin@sct.vinhlong.gov.vn")
    page.fill("#password", PASSWORD)
    _submit(page)
    assert page.url == f"{origin}/registry/console/accounts"
    page.fill("#name", "Lê Thị Hoa")
    page.fill("#email", f"hoa-{page.form_factor}@xttm.cantho.gov.vn")
    page.select_option("#role", "trade_officer")
    page.fill("#scope_id", "trung-tam-xttm-can-tho")
    page.fill("#scope_name", "Trung tâm XTTM Cần Thơ")
    page.fill("#password", "ngắn")
    page.locator("main form button", has_text="Tạo tài khoản").click()
    page.wait_for_load_state()
    assert page.locator("#password-error").inner_text() == "Từ 12 đến 256 ký tự."
    page.fill("#password", PASSWORD)
    page.locator("main form button", has_text="Tạo tài khoản").click()
    page.wait_for_load_state()
    assert f"hoa-{page.form_factor}@xttm.cantho.gov.vn" in page.locator("table").inner_text()
    shot(page, "console-accounts")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.goto(f"{origin}/registry/console/audit")
    assert "account.created" in page.locator("table").inner_text()
    shot(page, "console-audit")
    assert page.script_errors == []
