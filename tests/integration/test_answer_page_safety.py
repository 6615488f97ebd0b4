"""The answer page's protections over HTTP: every page (the form, a refusal, the thanks) carries a
Content-Security-Policy without script and with the style's nonce, no framing, no referrer, no
caching; a POST that a browser says came from another site is refused (403) and records nothing,
while the page's own form and clients that are not browsers are answered as before."""

from __future__ import annotations

import re

import pytest
from test_notifications_answers import invited
from test_notifications_sms import notifier_factory  # noqa: F401 - fixture

from services.notifications.models import Answer


@pytest.fixture
def n(notifier_factory):  # noqa: F811
    return notifier_factory()


def assert_page_headers(r) -> None:
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'" and directives["img-src"] == "'self' data:"
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_\-]+)'", directives["style-src"]).group(1)
    assert f'<style nonce="{nonce}">' in r.text and "<script" not in r.text
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Content-Type-Options"] == "nosniff"


def answers(n) -> int:
    with n.rt.transaction() as s:
        return s.query(Answer).count()


def test_every_answer_page_carries_the_headers_of_a_public_page(n):
    _, link = invited(n)
    first = n.http.get(link, timeout=10)
    assert first.status_code == 200
    assert_page_headers(first)
    again = n.http.get(link, timeout=10)
    assert again.headers["Content-Security-Policy"] != first.headers["Content-Security-Policy"]  # a fresh nonce
    assert_page_headers(n.http.get(link[:-4] + "abcd", timeout=10))  # tampered: 403, same headers
    r = n.http.post(link, data={"answer": "accept"}, timeout=10)  # no browser headers: a client, answered
    assert r.status_code == 200
    assert_page_headers(r)
    assert "Content-Security-Policy" not in n.call("GET", "/deliveries", "trade_officer").headers  # JSON: none


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/page"},
    ],
)
def test_a_form_posted_from_another_site_is_refused_and_records_nothing(n, headers):
    _, link = invited(n)
    r = n.http.post(link, data={"answer": "accept"}, headers=headers, timeout=10)
    assert r.status_code == 403 and "trang web khác" in r.text
    assert_page_headers(r)
    assert answers(n) == 0
    page = n.http.get(link, timeout=10)  # still open: the producer can answer on the page
    assert page.status_code == 200 and 'name="answer"' in page.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},  # a browser on the page itself (no-referrer)
        {"Origin": "null"},
        {"Origin": "{url}"},
        {"Referer": "{url}/r/x"},
    ],
)
def test_the_pages_own_form_is_answered(n, headers):
    _, link = invited(n)
    headers = {k: v.format(url=n.url) for k, v in headers.items()}
    r = n.http.post(link, data={"answer": "decline"}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert answers(n) == 1
