"""The answer page in a real browser under its Content-Security-Policy: styled (the style's nonce
matches), no policy violation, and a producer accepts through it; a form on another site that
posts to the same link is refused by the service and records nothing."""

from __future__ import annotations

import threading

import pytest
from support import free_port
from test_notifications_answers import invited
from test_notifications_sms import notifier_factory  # noqa: F401 - fixture
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from services.notifications.models import Answer


@pytest.fixture
def n(notifier_factory):  # noqa: F811
    return notifier_factory()


def answers(n) -> int:
    with n.rt.transaction() as s:
        return s.query(Answer).count()


def test_a_producer_accepts_through_the_page_under_its_policy(n, page, shot):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    _, link = invited(n)
    r = page.goto(link)
    assert "default-src 'none'" in r.headers["content-security-policy"]
    accept = page.locator("button.accept")
    assert accept.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(10, 125, 59)"  # the style applied
    shot(page, "answer-open-csp")
    page.fill("#note", "Chúng tôi tham gia")
    accept.click()
    page.wait_for_load_state()
    assert "Cảm ơn" in page.inner_text("body") and answers(n) == 1
    assert violations == [] and page.script_errors == []


def test_a_form_on_another_site_cannot_answer(n, page):
    _, link = invited(n)
    form = f'<form method="post" action="{link}"><input name="answer" value="accept"><button id="go">go</button></form>'
    server = make_server("127.0.0.1", free_port(), lambda env, start: Response(form, mimetype="text/html")(env, start))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{server.server_port}/")  # another site than 127.0.0.1
        with page.expect_navigation():
            page.click("#go")
        assert "trang web khác" in page.inner_text("body")
        assert answers(n) == 0
    finally:
        server.shutdown()
