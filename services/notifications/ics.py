"""iCalendar (RFC 5545) files for fair invitations, built with the ``icalendar`` library.

One VEVENT for the fair (all-day dates, DTEND exclusive) and an alarm two days before the
answer deadline. METHOD:PUBLISH, not REQUEST: the answer goes through the signed link, not as
an iTIP reply to an organiser's address. The UID is the invitation's, so a later update of the
same fair (a new SEQUENCE) replaces the entry in the producer's calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Alarm, Calendar, Event

PRODID = "-//OCOP trade promotion//notifications//VI"


def _date(value) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def fair_event(*, uid: str, fair: dict, summary: str, description: str, url: str | None, deadline,
               alarm_text: str, stamp: datetime | None = None, sequence: int = 0, status: str | None = None) -> str:
    """``status``: CONFIRMED (a booth is held), CANCELLED (the fair, the invitation or the producer's
    part in it is off: calendars mark or drop the entry), None (an offer, not yet answered)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{uid}@ocop.local")
    event.add("dtstamp", stamp or datetime.now(UTC))
    event.add("sequence", sequence)
    event.add("dtstart", _date(fair["starts_on"]))
    event.add("dtend", _date(fair["ends_on"]) + timedelta(days=1))
    event.add("summary", summary)
    event.add("location", f"{fair['venue']}, {fair['host_province']}")
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    if status:
        event.add("status", status)
    if url:
        event.add("url", url)
    if deadline is not None and alarm_text:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", alarm_text)
        alarm.add("trigger", _datetime(deadline).astimezone(UTC) - timedelta(days=2))
        event.add_component(alarm)
    cal.add_component(event)
    return cal.to_ical().decode("utf-8")
