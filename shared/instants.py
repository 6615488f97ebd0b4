"""The one date-time field of every response schema: an instant goes out as ISO 8601 in UTC with
its offset (``2026-05-01T03:00:00+00:00``), whatever the database hands back. PostgreSQL returns
aware datetimes; SQLite returns them naive (stored in UTC): a naive value is taken as UTC, never
written without a time zone (which a client would read as its own local time)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from marshmallow import fields

# Vietnam's time (UTC+7, no daylight saving): decisions are dated, deadlines end and fairs are shown
# in it; at 01:00 there it is still yesterday in UTC.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def vietnam_today() -> date:
    """Today's date in Vietnam."""
    return datetime.now(VIETNAM).date()


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is UTC already (how every service stores instants)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(fields.DateTime):
    """A response's instant, in UTC with its offset in both modes."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            value = utc(value)
        return super()._serialize(value, attr, obj, **kwargs)
