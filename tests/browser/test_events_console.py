"""The trade officer's console in a real browser, at a phone's and a desktop's width: an officer
signed in creates a fair (an error shown beside its field first), previews the ranking, asks why a
product is missing, publishes, records a phone answer and sees the board change; an officer of
another scope cannot see the fair; a form posted from another site is refused."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from events_pages_support import HA_NOI, VINH_LONG, create, events_app, session_of
from support import free_port
from werkzeug.serving import make_server
from werkzeug.wrappers import Response


def serve(app) -> tuple[str, object]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}", server


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    with events_app(tmp_path_factory.mktemp("events-console")) as app:
        url, server = serve(app)
        yield url, app
        server.shutdown()


def sign_in(page, base: str, user) -> None:
    """The officer's console session (as the registry's sign-in page sets it: the cookie ocop_session)."""
    page.context.add_cookies([{"name": "ocop_session", "value": session_of(user)[0], "url": base}])


def test_a_trade_officer_runs_a_fair_from_the_browser(events, page, shot):
    base, _ = events
    sign_in(page, base, VINH_LONG)
    name = f"Hội chợ OCOP Vĩnh Long ({page.form_factor})"
    start = date.today() + timedelta(days=70)
    page.goto(f"{base}/console/fairs")
    page.get_by_role("link", name="Tạo hội chợ").click()
    page.fill('[name="name"]', name)
    page.fill('[name="venue"]', "Quảng trường Văn hóa")
    page.fill('[name="host_province"]', "Vinh Long")
    page.fill('[name="starts_on"]', start.strftime("%d/%m/%Y"))
    page.fill('[name="ends_on"]', (start + timedelta(days=3)).strftime("%d/%m/%Y"))
    page.fill('[name="invitation_deadline"]', (start - timedelta(days=20)).strftime("%d/%m/%Y 17:00"))
    page.fill('[name="organiser"]', "Sở Công Thương Vĩnh Long")
    page.fill('[name="subsidy_per_booth"]', "12.000.000")
    page.fill('[name="budget"]', "36.000.000")
    page.get_by_role("button", name="Lưu").click()
    error = page.locator('[id="capacity-error"]')  # no capacity: said beside the field, in Vietnamese
    assert error.inner_text() == "Bắt buộc nhập."
    assert page.locator('[name="capacity"]').get_attribute("aria-invalid") == "true"
    assert page.locator('[name="name"]').input_value() == name
    shot(page, "events-fair-form-error")
    page.fill('[name="capacity"]', "3")
    page.get_by_role("button", name="Lưu").click()
    assert page.locator("h1").inner_text() == name
    assert "Bản nháp" in page.locator("main").inner_text()
    board = page.url

    page.get_by_role("link", name="Xếp hạng, đối sánh").click()
    assert page.locator(".card").count() >= 3 and "Hạng sao" in page.locator("main").inner_text()
    page.fill('[name="q"]', "san pham 5")
    page.get_by_role("button", name="Tìm").click()
    page.get_by_role("link", name="Sản phẩm 5").click()
    why = page.locator("#why").inner_text()
    assert "Không đủ điều kiện" in why and "Sản phẩm chưa được chứng nhận OCOP" in why
    shot(page, "events-matching-why-not")

    page.goto(board)
    page.get_by_role("button", name="Công bố và gửi thư mời").click()
    assert "Đang mời" in page.locator("main").inner_text()
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    shot(page, "events-board-inviting")
    page.get_by_role("link", name="Ghi nhận trả lời, rút thư mời").first.click()
    shot(page, "events-invitation")
    page.get_by_label("Nhận lời").check()
    page.fill('[name="note"]', "Gọi điện lúc 9 giờ")
    page.get_by_role("button", name="Ghi nhận").click()
    text = page.locator("main").inner_text()
    assert "Đã ghi nhận câu trả lời qua điện thoại" in text
    assert "Đã nhận lời (1)" in text and "Nguyễn Thị Lan ghi nhận" in text and "Gian số 1" in text
    shot(page, "events-board-answered")
    page.goto(f"{base}/console/fairs")
    assert name in page.locator("main").inner_text()
    shot(page, "events-fairs")
    page.goto(f"{base}/console/fairs/calendar?month={start.strftime('%Y-%m')}")
    assert page.get_by_role("link", name=name).first.is_visible()
    shot(page, "events-calendar")

    other = page.context.browser.new_context(viewport=page.viewport_size)
    try:
        intruder = other.new_page()
        sign_in(intruder, base, HA_NOI)
        assert intruder.goto(board).status == 404
        intruder.goto(f"{base}/console/fairs")
        assert name not in intruder.locator("main").inner_text()
    finally:
        other.close()


def test_a_form_posted_from_another_site_is_refused(events, page):
    base, app = events
    sign_in(page, base, VINH_LONG)
    fair_id = create(app.test_client(), name=f"Hội chợ bị giả mạo ({page.form_factor})")
    hostile = Response(
        f'<!doctype html><form method="post" action="{base}/console/fairs/{fair_id}/publish">'
        '<input type="hidden" name="invite" value="on"><button id="go">Nhận quà</button></form>',
        mimetype="text/html",
    )
    attacker, server = serve(lambda environ, start: hostile(environ, start))
    try:
        page.goto(attacker)
        with page.expect_navigation():
            page.click("#go")
        assert "Không được phép" in page.locator("body").inner_text()
    finally:
        server.shutdown()
    page.goto(f"{base}/console/fairs/{fair_id}")
    assert "Bản nháp" in page.locator("main").inner_text()


def test_season_plan_and_programme_figures(events, page, shot):
    base, app = events
    sign_in(page, base, VINH_LONG)
    client = app.test_client()
    names = [f"Phiên chợ mùa thu {n} ({page.form_factor})" for n in (1, 2)]
    for n, name in enumerate(names):
        create(client, name=name, venue=f"Nhà văn hóa số {n}")
    page.goto(f"{base}/console/season")
    for name in names:
        page.get_by_label(name, exact=False).check()
    page.get_by_role("button", name="Xem trước kế hoạch").click()
    assert page.locator("figure.chart svg").count() >= 1
    assert "Kế hoạch xem trước" in page.locator("main").inner_text()
    shot(page, "events-season-preview")
    page.get_by_role("button", name="Áp dụng: công bố và gửi thư mời").click()
    assert "Đã áp dụng kế hoạch: 2 hội chợ" in page.locator("main").inner_text()
    year = (date.today() + timedelta(days=60)).year
    page.goto(f"{base}/console/figures?year={year}")
    assert page.locator("figure.chart svg").count() >= 2
    assert names[0] in page.locator("main").inner_text()
    shot(page, "events-figures")


@pytest.fixture(scope="module")
def one_origin(events, tmp_path_factory):
    """The registry (the one issuer: its sign-in page) and the events app under one origin, by path
    (embedded/origin.py mounts them the same way), with a trade officer's account."""
    import dataclasses
    import secrets

    from support import TEST_SECRET, TEST_TOKEN_KEY, TEST_TOKEN_PUBLIC_KEY
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from services.registry import accounts
    from services.registry.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    tmp = tmp_path_factory.mktemp("registry-sign-in")
    settings = dataclasses.replace(
        load("registry"),
        database_url=f"sqlite:///{tmp / 'registry.sqlite'}",
        secret_key=TEST_SECRET,
        token_private_key=TEST_TOKEN_KEY,
        token_public_key=TEST_TOKEN_PUBLIC_KEY,
    )
    registry = create_app(settings=settings, migrate=True)
    password = "mật-khẩu-" + secrets.token_urlsafe(8)
    with runtime_of(registry).transaction() as s:
        accounts.create(
            s,
            email="lan@sct.vinhlong.gov.vn",
            name="Nguyễn Thị Lan",
            role="trade_officer",
            password=password,
            scope_id=VINH_LONG["scope"],
            scope_name="Sở Công Thương Vĩnh Long",
        )
    _, events_app = events
    url, server = serve(
        DispatcherMiddleware(Response("not found", 404), {"/registry": registry, "/events": events_app})
    )
    yield url, password
    server.shutdown()
    runtime_of(registry).engine.dispose()


def test_a_trade_officer_signs_in_at_the_one_origin_and_lands_on_the_fairs(one_origin, page, shot):
    base, password = one_origin
    page.goto(f"{base}/events/console/fairs")
    assert "/registry/console/sign-in" in page.url  # not signed in: the one issuer's sign-in page
    page.fill('[name="email"]', "lan@sct.vinhlong.gov.vn")
    page.fill('[name="password"]', password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{base}/events/console/fairs")
    assert page.locator("h1").inner_text() == "Hội chợ, triển lãm"
    assert "Nguyễn Thị Lan" in page.locator("header").inner_text()
    page.get_by_role("link", name="Tạo hội chợ").click()
    assert page.url == f"{base}/events/console/fairs/new"  # links keep the /events prefix
