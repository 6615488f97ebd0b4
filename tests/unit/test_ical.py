"""One iCalendar writer (shared/ical.py) for the events feeds and the invitation letters: the same
UID rule, the same time-zone rule, the same TEXT and folding rules, read back by ``icalendar``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar

from services.events import worker
from services.events.outputs import calendars
from services.notifications import ics
from shared import config, ical

FAIR = calendars.FairEntry(
    id="f1",
    name="Hội chợ OCOP",
    kind="trade_fair",
    organiser="Sở Công Thương",
    venue="Cồn Phụng",
    host_province="Vĩnh Long",
    starts_on=date(2026, 7, 1),
    ends_on=date(2026, 7, 5),
    status="inviting",
    version=2,
    invitation_deadline=datetime(2026, 6, 1, 10, tzinfo=UTC),
)


def _letter() -> bytes:
    fair = {"starts_on": "2026-07-01", "ends_on": "2026-07-05", "venue": "Cồn Phụng", "host_province": "Vĩnh Long"}
    return ics.fair_event(
        uid="inv-1",
        fair=fair,
        summary="Hội chợ OCOP",
        description="Thư mời",
        url=None,
        deadline="2026-06-01T10:00:00+00:00",
        alarm_text="Hạn trả lời",
    ).encode()


def test_the_feeds_and_the_letters_follow_one_uid_rule_and_one_time_zone_rule():
    feed = Calendar.from_ical(calendars.fairs_feed([FAIR]))
    booth = Calendar.from_ical(
        calendars.producer_feed("HTX", [calendars.BoothEntry("i1", "accepted", 1, [3], None, FAIR)])
    )
    letter = Calendar.from_ical(_letter())
    uids = [str(c.walk("VEVENT")[0]["uid"]) for c in (feed, booth, letter)]
    assert uids == ["fair-f1@ocop.local", "booth-i1@ocop.local", "inv-1@ocop.local"]  # <key>@ocop.local
    for cal in (feed, booth, letter):
        assert str(cal["x-wr-timezone"]) == "Asia/Ho_Chi_Minh" and str(cal["method"]) == "PUBLISH"
        [event] = cal.walk("VEVENT")
        assert (event.decoded("dtstart"), event.decoded("dtend")) == (date(2026, 7, 1), date(2026, 7, 6))
        assert event.decoded("dtstamp").utcoffset() == timedelta(0)  # UTC where RFC 5545 wants it
    # an alarm's absolute trigger in UTC; any other instant in Vietnam time with its zone
    assert letter.walk("VALARM")[0].decoded("trigger") == datetime(2026, 5, 30, 10, tzinfo=UTC)
    deadline = feed.walk("VEVENT")[0]["x-ocop-invitation-deadline"]
    assert deadline.params["TZID"] == "Asia/Ho_Chi_Minh" and b"20260601T170000" in deadline.to_ical()
    assert [str(z["tzid"]) for z in feed.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]
    assert letter.walk("VTIMEZONE") == []  # no zoned instant in a letter: no VTIMEZONE


def test_a_fold_never_follows_a_backslash():
    for n in range(60, 80):
        line = "DESCRIPTION:" + "a" * n + ical.text("x\\y, z;\nw" * 5)
        folded = ical.fold(line)
        assert not any(part.endswith("\\") for part in folded[:-2].split("\r\n"))
        assert folded[:-2].replace("\r\n ", "") == line


def test_the_expiry_grace_is_a_setting(monkeypatch):
    monkeypatch.setenv("OCOP_EXPIRY_GRACE_SECONDS", "5")
    settings = config.load("events")
    assert settings.expiry_grace_seconds == 5 and worker.grace(settings) == timedelta(seconds=5)
    monkeypatch.delenv("OCOP_EXPIRY_GRACE_SECONDS")
    assert worker.grace(config.load("events")) == timedelta(minutes=10)
