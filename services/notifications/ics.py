"""The iCalendar file of a fair invitation, written by the one writer (``shared/ical.py``: its UID,
time-zone and TEXT rules).

One VEVENT for the fair (all-day dates, DTEND exclusive) and an alarm two days before the
answer deadline. METHOD:PUBLISH, not REQUEST: the answer goes through the signed link, not as
an iTIP reply to an organiser's address. The UID's key is the invitation's id, so a later file
about the same invitation (a higher SEQUENCE: new dates, the booth confirmed, STATUS:CANCELLED)
replaces the entry in the producer's calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared import ical

from .i18n import place

PRODID = "-//OCOP trade promotion//notifications//VI"


def _date(value) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def fair_event(
    *,
    uid: str,
    fair: dict,
    summary: str,
    description: str,
    url: str | None,
    deadline,
    alarm_text: str,
    stamp: datetime | None = None,
    sequence: int = 0,
    status: str | None = None,
) -> str:
    """``uid``: the entry's key (the invitation's id). ``status``: CONFIRMED (a booth is held),
    CANCELLED (the fair, the invitation or the producer's part in it is off: calendars mark or drop
    the entry), None (an offer, not yet answered)."""
    alarm = None
    if deadline is not None and alarm_text:
        alarm = ical.Alarm(_datetime(deadline) - timedelta(days=2), alarm_text)
    entry = ical.Entry(
        key=uid,
        summary=summary,
        first_day=_date(fair["starts_on"]),
        last_day=_date(fair["ends_on"]),
        stamp=stamp or datetime.now(UTC),
        sequence=sequence,
        description=description,
        location=place(fair),
        status=status,
        url=url,
        alarm=alarm,
    )
    return ical.calendar([entry], prodid=PRODID)
