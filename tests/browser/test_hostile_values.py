"""Hostile values in what a producer reads, rendered by a real browser: an organiser's note, a
product's name and a fair's changed values that carry markup are shown as text on the answer page
and in the HTML email, and no script runs (no dialog, no error, no marker set by an ``onerror``)."""

from __future__ import annotations

import pytest
from test_notifications_answers import about, invited
from test_notifications_sms import notifier_factory  # noqa: F401 - fixture

HOSTILE = '<img src=x onerror="window.__xss=1;alert(1)">'


@pytest.fixture
def n(notifier_factory):  # noqa: F811
    return notifier_factory()


def no_script_ran(page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == [] and page.script_errors == []
    assert page.locator("img").count() == 0


def test_a_withdrawal_note_with_markup_is_text_on_the_answer_page(n, page, shot):
    inv, link = invited(n)
    n.deliver(
        about(
            "events.invitation.withdrawn",
            inv,
            version=3,
            previous_status="issued",
            booths=[],
            reason=f"withdrawn by the organiser: {HOSTILE}",
        )
    )
    page.goto(link)
    assert HOSTILE in page.inner_text("body")  # shown, as the characters the organiser typed
    no_script_ran(page)
    shot(page, "answer-withdrawn-hostile")


def test_the_html_email_of_a_withdrawal_shows_markup_as_text(n, page, shot):
    inv, _ = invited(n, email="htx.hostile@example.vn")
    n.deliver(
        about(
            "events.invitation.withdrawn",
            inv,
            version=3,
            previous_status="issued",
            booths=[],
            reason=f"withdrawn by the organiser: {HOSTILE}",
            cause="certificate_revoked",
            detail=HOSTILE,
        )
    )
    [row] = [d for d in n.deliveries(ref_id=inv["data"]["invitation_id"]) if d.template == "withdrawn"]
    page.set_content(row.body_html)
    assert HOSTILE in page.inner_text("body")
    no_script_ran(page)
    shot(page, "email-withdrawn-hostile")
