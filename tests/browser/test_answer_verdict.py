"""The answer page as a producer on a phone uses it (issue 11): the accept and decline buttons are on
the first screen at 360×740 (the fair's name shown once); after accepting, the organiser's verdict
appears without the producer (or this test) reloading the page, and the verdict page gives the next
steps (calendar file, what to bring, whom to ask) instead of the now-irrelevant deadline."""

from __future__ import annotations

import pytest
from icalendar import Calendar
from test_notifications_answers import about
from test_notifications_sms import notifier_factory  # noqa: F401 - fixture

from services.notifications.models import Answer

LONG_FAIR = "Hội chợ OCOP và đặc sản vùng miền Thành phố Hồ Chí Minh 2025"


@pytest.fixture
def n(notifier_factory):  # noqa: F811
    return notifier_factory()


def invited(n) -> tuple[dict, str]:
    p = n.producer(
        email="htx.verdict@example.vn",
        sms=False,
        name="Hợp tác xã Sản xuất Kinh doanh Dịch vụ Nông nghiệp Thạnh Phú Đông",
    )
    inv = n.invitation(p["producer_id"], fair_name=LONG_FAIR)
    assert n.deliver(inv) == "handled"
    [row] = n.deliveries(cause_event_id=inv["id"])
    [link] = [w for w in row.body_text.split() if "/r/" in w and "/r/s/" not in w]
    return inv, link


def test_the_buttons_are_on_the_first_screen_and_the_fair_is_named_once(n, page, shot):
    _, link = invited(n)
    page.goto(link)
    shot(page, "answer-first-screen")
    height = page.viewport_size["height"]
    for button in ("button.accept", "button.decline"):
        box = page.locator(button).bounding_box()
        assert box["y"] + box["height"] <= height, (button, box, height)  # visible without scrolling
    assert page.inner_text("body").count(LONG_FAIR) == 1
    assert "Sở Công Thương Thành phố Hồ Chí Minh" in page.inner_text("body")  # whom to ask, under the form


def test_the_verdict_appears_without_a_reload_and_gives_the_next_steps(n, page, shot):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    inv, link = invited(n)
    page.goto(link)
    page.locator("button.accept").click()
    page.wait_for_load_state()
    body = page.inner_text("body")
    assert "sẽ hiển thị xác nhận ngay khi có" in body  # it says the confirmation will show up here
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    shot(page, "answer-waiting")
    with n.rt.transaction() as s:
        assert s.query(Answer).count() == 1
    # the organiser's verdict comes back through the queue; the test does not touch the page
    assert n.deliver(about("events.invitation.accepted", inv, booth=17, booths=[17])) == "handled"
    page.wait_for_selector("text=gian hàng số 17", timeout=30_000)  # the page refreshed itself
    body = page.inner_text("body")
    assert "Hạn trả lời" not in body  # the deadline no longer matters
    assert "Các bước tiếp theo" in body and "Cần mang theo" in body
    assert "Nguyễn Thị Thu Hà" in body and "028 3829 1234" in body  # whom to call
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # no more reloading
    shot(page, "answer-verdict")
    href = page.get_attribute("a[href$='calendar.ics']", "href")
    r = page.request.get(page.url.split("?")[0].rsplit("/", 1)[0] + "/" + href)
    assert r.status == 200 and r.headers["content-type"].startswith("text/calendar")
    [entry] = Calendar.from_ical(r.text()).walk("VEVENT")
    assert str(entry["status"]) == "CONFIRMED" and LONG_FAIR in str(entry["summary"]) and "17" in str(entry["summary"])
    assert str(entry["uid"]) == f"{inv['data']['invitation_id']}@ocop.local"
    assert "Nguyễn Thị Thu Hà" in str(entry["description"])
    assert violations == [] and page.script_errors == []
