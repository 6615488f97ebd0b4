"""The one iCalendar (RFC 5545) writer: the events service's feeds (``services/events/outputs/calendars.py``)
and the invitation letters' files (``services/notifications/ics.py``) both write through ``calendar``.

On the ``icalendar`` library: its value types write the values (``vText`` escapes TEXT, ``vDatetime``
a local time, ``vDuration``, ``vCategory``), its ``Timezone`` writes the VTIMEZONE, and the tests read
every file back with its parser. The content lines are put together and folded here, and dates and
UTC instants formatted with strftime: ``Component.to_ical`` cost 0.2 to 0.35 ms a file, most of a
letter's rendering, and a letter is rendered for every message (bench/run notify).

One set of rules:

- **UID**: ``<key>@ocop.local`` (``uid``). The key is the stable id of what the entry stands for, the
  same in every file about it, so that a later file (a higher SEQUENCE) replaces the entry:
  ``fair-<fair id>`` in the public feed, ``booth-<invitation id>`` in a producer's feed (its place at
  the fair, an entry of its own beside the fair's), ``<invitation id>`` in the invitation letters
  (the entry a producer imports from a letter; every later letter about the invitation replaces it).
- **Time zone**: a fair's days are all-day DATE values, no zone (the same days in every calendar;
  DTEND exclusive). The instants RFC 5545 wants in UTC are in UTC (DTSTAMP, CREATED, LAST-MODIFIED,
  an alarm's absolute TRIGGER); any other instant (``Entry.local``: the invitation deadline) is in
  Vietnam time with ``TZID=Asia/Ho_Chi_Minh`` and that zone's VTIMEZONE in the file. Every calendar
  says ``X-WR-TIMEZONE:Asia/Ho_Chi_Minh``.
- **TEXT**: a value keeps its line breaks (written ``\\n``); any other control character (a lone CR,
  a NUL, U+2028...) becomes a space, so that no value can start a line of its own.
- Lines are folded at 75 octets, never inside a UTF-8 character nor right after a backslash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

from icalendar import Timezone
from icalendar.prop import vCategory, vDatetime, vDuration, vText

from shared.instants import VIETNAM
from shared.text import one_line

DOMAIN = "ocop.local"
TIMEZONE = VIETNAM.key  # "Asia/Ho_Chi_Minh"


def uid(key: str) -> str:
    """The UID of the entry ``key`` stands for (see the rules above)."""
    return f"{key}@{DOMAIN}"


@dataclass(frozen=True, slots=True)
class Alarm:
    """A reminder shown at ``trigger`` (an instant: written in UTC)."""

    trigger: datetime
    description: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One VEVENT: a fair's days, all-day, from ``first_day`` to ``last_day`` (both included)."""

    key: str  # the UID's key: see ``uid``
    summary: str
    first_day: date
    last_day: date
    stamp: datetime  # DTSTAMP: when the entry last changed (or was written)
    sequence: int = 0
    description: str = ""
    location: str | None = None
    status: str | None = None  # CONFIRMED, CANCELLED, or None (an offer, not yet answered)
    busy: bool = False  # TRANSP: OPAQUE blocks the time, TRANSPARENT does not
    url: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    categories: tuple[str, ...] = ()
    local: tuple[tuple[str, datetime], ...] = ()  # (X- property, instant): written in Vietnam time
    alarm: Alarm | None = None


def text(value: str) -> str:
    """A TEXT value: line breaks kept (``\\n``), other control characters a space, escaped by ``vText``."""
    if not value.isprintable():
        value = "\n".join(one_line(part) for part in value.replace("\r\n", "\n").split("\n"))
    return vText(value).to_ical().decode()


def fold(line: str) -> str:
    """A content line folded at 75 octets (CRLF and a space), never inside a UTF-8 character nor
    right after a backslash (some readers take ``\\`` + fold as an escape of the fold)."""
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
        while end < len(raw) and raw[end - 1] == 0x5C and end - 1 > start:  # backslashes: to the next line
            end -= 1
        out.append(raw[start:end].decode("utf-8"))
        start, limit = end, 74  # continuation lines begin with the space
    return "\r\n ".join(out) + "\r\n"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive: UTC, as every service stores it


def _utc(value: datetime) -> str:
    """A DATE-TIME in UTC (``20250101T000000Z``); ``vDatetime`` writes the same, at ten times the cost."""
    return _aware(value).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@cache
def _vtimezone() -> str:
    """Vietnam's VTIMEZONE, as icalendar writes it (the same for every file: built once)."""
    return Timezone.from_tzid(TIMEZONE).to_ical().decode()


def _event(e: Entry) -> list[str]:
    lines = ["BEGIN:VEVENT", f"UID:{text(uid(e.key))}", f"DTSTAMP:{_utc(e.stamp)}"]
    if e.created is not None:
        lines.append(f"CREATED:{_utc(e.created)}")
    if e.modified is not None:
        lines.append(f"LAST-MODIFIED:{_utc(e.modified)}")
    lines += [
        f"SEQUENCE:{int(e.sequence)}",
        f"DTSTART;VALUE=DATE:{e.first_day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{e.last_day + timedelta(days=1):%Y%m%d}",  # exclusive
        f"SUMMARY:{text(e.summary)}",
    ]
    if e.location is not None:
        lines.append(f"LOCATION:{text(e.location)}")
    if e.categories:
        lines.append("CATEGORIES:" + vCategory([one_line(c) for c in e.categories]).to_ical().decode())
    if e.status:
        lines.append(f"STATUS:{e.status}")
    lines.append("TRANSP:" + ("OPAQUE" if e.busy else "TRANSPARENT"))
    if e.url:
        lines.append(f"URL:{one_line(e.url)}")
    for name, instant in e.local:
        local = _aware(instant).astimezone(VIETNAM).replace(tzinfo=None)
        lines.append(f"{name.upper()};TZID={TIMEZONE}:{vDatetime(local).to_ical().decode()}")
    lines.append(f"DESCRIPTION:{text(e.description)}")
    if e.alarm is not None:
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{text(e.alarm.description)}",
            f"TRIGGER;VALUE=DATE-TIME:{_utc(e.alarm.trigger)}",
            "END:VALARM",
        ]
    lines.append("END:VEVENT")
    return lines


def calendar(
    entries: Iterable[Entry],
    *,
    prodid: str,
    name: str | None = None,
    description: str | None = None,
    refresh: timedelta | None = None,
) -> str:
    """A VCALENDAR (METHOD:PUBLISH) of ``entries``. ``name``/``description``: a feed's title
    (X-WR-CALNAME, X-WR-CALDESC); ``refresh``: how often a subscribed calendar should look again
    (REFRESH-INTERVAL and X-PUBLISHED-TTL, a hint)."""
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{one_line(prodid)}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-TIMEZONE:{TIMEZONE}",
    ]
    if name is not None:
        head.append(f"X-WR-CALNAME:{text(one_line(name))}")
    if description is not None:
        head.append(f"X-WR-CALDESC:{text(one_line(description))}")
    if refresh is not None:
        ttl = vDuration(refresh).to_ical().decode()
        head += [f"REFRESH-INTERVAL;VALUE=DURATION:{ttl}", f"X-PUBLISHED-TTL:{ttl}"]
    body, zoned = [], False
    for entry in entries:
        body += _event(entry)
        zoned = zoned or bool(entry.local)
    out = "".join(fold(line) for line in head)
    if zoned:
        out += _vtimezone()
    return out + "".join(fold(line) for line in body) + "END:VCALENDAR\r\n"
