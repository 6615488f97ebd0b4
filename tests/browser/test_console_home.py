"""The console's home page per role (shared/console/home.py, at /registry/console/ of the one origin):
signed in through the sign-in page, each role lands on its main tasks as big links, in Vietnamese
(English by the switch), a hostile name shown as text; screenshots at 360 and 1280 px."""

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
HOSTILE = '<img src=x onerror="window.__xss=1">Trần Văn Bình'
PEOPLE = {
    "registry_officer": ("binh@sct.vinhlong.gov.vn", HOSTILE, "Sở Công Thương Vĩnh Long"),
    "trade_officer": ("lan@sct.vinhlong.gov.vn", "Nguyễn Thị Lan", "Trung tâm Xúc tiến Thương mại Vĩnh Long"),
    "admin": ("admin@ocop.vinhlong.gov.vn", "Quản trị viên", ""),
}
TASKS = {
    "registry_officer": ["Chủ thể & sản phẩm", "Quyết định", "Nhập dữ liệu", "Tiến độ"],
    "trade_officer": ["Hội chợ", "Kế hoạch mùa", "Số liệu"],
    "admin": ["Tài khoản", "Nhật ký"],
}


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The registry (sign-in and home) mounted at /registry under one origin, as embedded/origin.py does."""
    from services.registry import accounts
    from services.registry.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    tmp = tmp_path_factory.mktemp("console-home")
    settings = dataclasses.replace(
        load("registry"),
        database_url=f"sqlite:///{tmp / 'registry.sqlite'}",
        secret_key=TEST_SECRET,
        token_private_key=TEST_TOKEN_KEY,
        token_public_key=TEST_TOKEN_PUBLIC_KEY,
    )
    registry = create_app(settings=settings, migrate=True)
    with runtime_of(registry).transaction() as s:
        for role, (email, name, scope) in PEOPLE.items():
            accounts.create(
                s,
                email=email,
                name=name,
                role=role,
                password=PASSWORD,
                scope_id=scope and "vinh-long",
                scope_name=scope,
            )
    port = free_port()
    server = make_server(
        "127.0.0.1", port, DispatcherMiddleware(Response("not found", 404), {"/registry": registry}), threaded=True
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    runtime_of(registry).engine.dispose()


@pytest.mark.parametrize("role", list(PEOPLE))
def test_each_role_lands_on_its_tasks(origin, page, shot, role):
    email, name, _ = PEOPLE[role]
    page.goto(f"{origin}/registry/console/")
    assert "/registry/console/sign-in" in page.url
    page.fill('[name="email"]', email)
    page.fill('[name="password"]', PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"{origin}/registry/console/")
    assert page.locator("html").get_attribute("lang") == "vi"
    tasks = page.locator("ul.tasks a strong").all_inner_texts()
    assert tasks == TASKS[role]
    nav = page.locator("nav.main a").all_inner_texts()
    assert nav == TASKS[role]
    assert name in page.locator("header .person").inner_text()  # shown as text, never run
    assert page.evaluate("window.__xss") is None and page.script_errors == []
    shot(page, f"console-home-{role}")
    box = page.locator("ul.tasks a").first.bounding_box()
    assert box["height"] >= 44 and box["width"] <= page.viewport_size["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]  # nothing wider than the screen
    page.locator(".lang a", has_text="EN").click()
    page.wait_for_url("**lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Sign out" in page.locator("header").inner_text()
    page.goto(f"{origin}/registry/console/")  # the cookie keeps English
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator(".lang a", has_text="VI").click()
    page.wait_for_url("**lang=vi")
    page.locator("header button", has_text="Đăng xuất").click()
    page.wait_for_load_state()
    page.goto(f"{origin}/registry/console/")
    assert "/registry/console/sign-in" in page.url  # signed out
