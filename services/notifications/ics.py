"""iCalendar (RFC 5545) files for fair invitations.

One VEVENT for the fair (all-day dates, DTEND exclusive) and an alarm two days before the
answer deadline. METHOD:PUBLISH, not REQUEST: the answer goes through the signed link, not as
an iTIP reply to an organiser's address. The UID is the invitation's, so a later file about the
same invitation (a higher SEQUENCE: new dates, the booth confirmed, STATUS:CANCELLED) replaces
the entry in the producer's calendar.

Written line by line (escaping TEXT values, folding at 75 octets without splitting a UTF-8
character) rather than with the ``icalendar`` library, whose serialiser cost 1.6 ms a file here,
most of a message's rendering; the tests parse every file back with ``icalendar``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.text import one_line

from .i18n import place

PRODID = "-//OCOP trade promotion//notifications//VI"


def _date(value) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newline escaped (RFC 5545, 3.3.11); any other
    control character (a lone CR among them), which TEXT may not carry, becomes a space."""
    # str.replace, not str.translate: translate looks every character of a Vietnamese text up in a dict
    value = value.replace("\r\n", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return one_line(value.replace("\n", "\\n"))


def fold(line: str) -> str:
    """A content line folded at 75 octets (CRLF and a space), never inside a UTF-8 character."""
    if len(line) <= 18 or (line.isascii() and len(line) <= 75):  # 18 characters: at most 72 octets
        return line + "\r\n"
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line + "\r\n"
    out, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # a continuation byte: step back
            end -= 1
        out.append(raw[start:end].decode("utf-8"))
        start, limit = end, 74  # continuation lines begin with the space
    return "\r\n ".join(out) + "\r\n"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fair_event(*, uid: str, fair: dict, summary: str, description: str, url: str | None, deadline,
               alarm_text: str, stamp: datetime | None = None, sequence: int = 0, status: str | None = None) -> str:
    """``status``: CONFIRMED (a booth is held), CANCELLED (the fair, the invitation or the producer's
    part in it is off: calendars mark or drop the entry), None (an offer, not yet answered)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             "BEGIN:VEVENT", f"SUMMARY:{text(summary)}",
             f"DTSTART;VALUE=DATE:{_date(fair['starts_on']):%Y%m%d}",
             f"DTEND;VALUE=DATE:{_date(fair['ends_on']) + timedelta(days=1):%Y%m%d}",
             f"DTSTAMP:{_utc(stamp or datetime.now(UTC))}", f"UID:{text(uid)}@ocop.local", f"SEQUENCE:{int(sequence)}",
             f"DESCRIPTION:{text(description)}", "LOCATION:" + text(place(fair))]
    if status:
        lines.append(f"STATUS:{status}")
    lines.append("TRANSP:TRANSPARENT")
    if url:
        lines.append(f"URL:{one_line(url)}")
    if deadline is not None and alarm_text:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{text(alarm_text)}",
                  f"TRIGGER;VALUE=DATE-TIME:{_utc(_datetime(deadline) - timedelta(days=2))}", "END:VALARM"]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) for line in lines)
