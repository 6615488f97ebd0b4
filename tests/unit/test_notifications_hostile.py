"""Hostile values in every template: each message, in each language, rendered from its event's golden
sample with every string of the data (and of what the database would add: the fair, the products, the
producer's name) replaced by markup. The HTML (email part, answer page) shows it as text, escaped
once; the plain text, subject, SMS and calendar file carry it as the characters typed, never as
HTML entities."""

from __future__ import annotations

import re
from datetime import date, datetime
from html.parser import HTMLParser

import pytest
from icalendar import Calendar

from services.notifications import domain, i18n
from services.notifications.previews import preview_context
from services.notifications.rendering import render, render_page
from shared.contracts import parse_envelope, sample

HOSTILE = "<img src=x onerror=alert(1)>\"'&"
ENTITIES = re.compile(r"&(lt|gt|amp|quot|#0?39|#x27|#34);")
LANGS = ["vi", "en"]


def _structural(value: str) -> bool:
    """Dates and instants stay as they are: templates format them (a hostile one fails at the API)."""
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
            return True
        except ValueError:
            pass
    return False


CODES = ("changed", "field")  # which fields changed: names of fields, not text


def hostile(value):
    if isinstance(value, str):
        return value if _structural(value) else HOSTILE
    if isinstance(value, dict):
        return {k: v if k in CODES else hostile(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(v) for v in value]
    return value


def hostile_context(name: str) -> dict:
    _, data = parse_envelope(sample(domain.MESSAGES[name].event_type, 1))
    if "changed" in data:  # every field a producer is told about changed
        data["changed"] = list(domain.PRODUCER_FAIR_FIELDS) + ["capacity"]
    ctx = hostile(preview_context(name, hostile(data), HOSTILE, "http://127.0.0.1:8003"))
    # (the second pass: what came from the invitation's sample too: fair, products, deadline's words)
    for change in ctx.get("changes", []):
        if isinstance(change["old"], str):
            change["old"] = f"old {HOSTILE}"
    return ctx


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def assert_safe_html(html: str) -> None:
    assert "<img" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    assert "img" not in parser.tags and parser.handlers == []
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, escaped once
    assert "&amp;lt;" not in html  # not twice


def assert_plain(text: str) -> None:
    assert not ENTITIES.search(text), text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(domain.MESSAGES))
def test_every_message_escapes_hostile_data_in_html_and_only_there(name, lang):
    ctx = hostile_context(name)
    r = render(
        name,
        lang,
        ctx,
        sms_link="http://127.0.0.1:8003/r/s/AbCdEf",
        sms_mode="ucs2",
        sms_max_segments=8,
        calendar_uid="inv-1",
    )
    assert_safe_html(r.html)
    for part in (r.subject, r.text, r.sms.text if r.sms else ""):
        assert_plain(part)
    assert HOSTILE in r.text  # the name as typed, in the plain text
    for attachment in r.attachments:
        assert_plain(attachment.content)
        event = Calendar.from_ical(attachment.content).walk("VEVENT")[0]
        assert HOSTILE in str(event["SUMMARY"]) + str(event["DESCRIPTION"]) + str(event.get("LOCATION", ""))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "state",
    [
        "open",
        "answered",
        "accepted",
        "declined",
        "refused",
        "withdrawn",
        "expired",
        "thanks",
        "bad_form",
        "foreign_form",
    ],
)
@pytest.mark.parametrize("cause", ["organiser", "certificate_revoked", "clash", "fair_cancelled", HOSTILE])
def test_the_answer_page_escapes_hostile_data(state, cause, lang):
    ctx = hostile_context("invitation")
    inv = {"fair": ctx["fair"], "products": ctx["products"], "deadline": ctx["deadline"]}
    page = render_page(
        lang,
        state,
        inv=inv,
        now_state=state,
        form=state == "open",
        cause=cause,
        detail=HOSTILE,
        booths=[HOSTILE],
        errors=[(HOSTILE, HOSTILE)],
        answer="accept",
    )
    assert_safe_html(page)


def test_html_templates_cannot_be_rendered_by_the_text_environment():
    with pytest.raises(ValueError, match="HTML"):
        i18n.environment("vi").get_template("page.html")
