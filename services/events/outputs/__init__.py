"""What the events service gives out: calendar feeds of fairs, the participants' export of a fair
and the programme figures of a period. ``queries`` reads them, ``routes`` and ``schemas`` are the
HTTP side; ``calendars`` (iCalendar, through shared/ical.py) and ``figures`` are pure."""
