"""Hostile values in the files the platform writes: CSV cells that would run as formulas get a quote
(numbers stay numbers), and calendar files (the events service's feeds, the notifications'
invitation .ics) keep every value on its line whatever control characters it carries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar

from services.events.outputs import calendars
from services.notifications import ics
from shared import csvsafe

HOSTILE = "Hội chợ\r\nX-EVIL:1\rBEGIN:VEVENT\nEND:VCALENDAR\x00\x0b\u2028; , \\"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+84912345678", "'+84912345678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Hợp tác xã = 1", "Hợp tác xã = 1"),
        ("", ""),
        (None, None),
        (-5, -5),
        (12.5, 12.5),
        (0, 0),
        (True, True),
    ],
)
def test_a_cell_that_starts_like_a_formula_gets_a_quote_and_numbers_stay(value, written):
    assert csvsafe.cell(value) == written


def test_the_dict_writer_neutralises_every_row():
    buffer = io.StringIO()
    writer = csvsafe.DictWriter(buffer, fieldnames=["name", "score"])
    writer.writeheader()
    writer.writerows([{"name": "=cmd|' /C calc'!A0", "score": -3}, {"name": "HTX", "score": 7}])
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [
        ["name", "score"],
        ["'=cmd|' /C calc'!A0", "-3"],
        ["HTX", "7"],
    ]


def _lines_are_clean(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\r\n")
    for line in lines:
        assert not any(b < 0x20 or b == 0x7F for b in line), line
        assert "\u2028".encode() not in line
    assert not any(line.startswith((b"X-EVIL", b"END:VCALENDAR\\")) for line in lines)
    return lines


def test_events_feeds_keep_hostile_values_on_their_line():
    fair = calendars.FairEntry(
        id="f1",
        name=HOSTILE,
        kind="trade_fair",
        organiser=HOSTILE,
        venue=HOSTILE,
        host_province=HOSTILE,
        starts_on=date(2025, 11, 20),
        ends_on=date(2025, 11, 24),
        status="cancelled",
        version=2,
        cancel_reason=HOSTILE,
    )
    withdrawn = calendars.BoothEntry(
        "i1", "withdrawn", 1, [], HOSTILE, calendars.FairEntry(**{**fair.__dict__, "status": "published", "id": "f2"})
    )
    for raw in (calendars.fairs_feed([fair], name=HOSTILE), calendars.producer_feed(HOSTILE, [withdrawn])):
        lines = _lines_are_clean(raw)
        assert lines.count(b"BEGIN:VEVENT") == 1
        cal = Calendar.from_ical(raw)
        [event] = cal.walk("VEVENT")
        assert str(event["SUMMARY"]).startswith("Hội chợ X-EVIL:1 BEGIN:VEVENT END:VCALENDAR ")
        assert "X-EVIL" not in event and "X-EVIL" not in cal


def test_the_invitation_file_keeps_hostile_values_on_their_line():
    fair = {"starts_on": "2025-11-20", "ends_on": "2025-11-24", "venue": HOSTILE, "host_province": HOSTILE}
    raw = ics.fair_event(
        uid="inv-1",
        fair=fair,
        summary=HOSTILE,
        description=f"{HOSTILE}\nsecond line",
        url="http://127.0.0.1:8003/r/x\r\nX-EVIL:2",
        deadline=datetime(2025, 10, 31, tzinfo=UTC),
        alarm_text=HOSTILE,
    ).encode()
    lines = _lines_are_clean(raw)
    assert lines.count(b"BEGIN:VEVENT") == 1
    [event] = Calendar.from_ical(raw).walk("VEVENT")
    # line breaks inside a value are TEXT's escaped ones (\\n), any other control character a space
    assert str(event["SUMMARY"]) == "Hội chợ\nX-EVIL:1 BEGIN:VEVENT\nEND:VCALENDAR ; , \\"
    assert str(event["DESCRIPTION"]).endswith("\nsecond line") and "X-EVIL" not in event
