"""iCalendar (RFC 5545) feeds of fairs, written by the one writer (``shared/ical.py``: its UID,
time-zone and TEXT rules). Plain Python: the rows come from ``queries``, the HTTP side from ``routes``.

Two feeds, one VEVENT per fair:

- the public feed of published fairs (every fair announced and not withdrawn from view: published,
  inviting, closed, held; a cancelled one stays with ``STATUS:CANCELLED`` so that a calendar that
  subscribed drops or strikes it);
- a producer's own calendar: the fairs it accepted (``CONFIRMED``, the time blocked), and those it
  had accepted and is no longer going to (its invitation withdrawn, or the fair cancelled):
  ``CANCELLED``.

Entries are all-day, so they sit on the same days whatever the calendar's own time zone. The one
instant an entry carries, the invitation deadline, is given in Asia/Ho_Chi_Minh (``TZID``, with its
``VTIMEZONE``).

UID keys are stable (``fair-<id>`` in the public feed, ``booth-<invitation id>`` in a producer's:
different entries, since a producer may subscribe to both). ``SEQUENCE`` only ever grows and grows
with every change: the fair's version (and, in a producer's calendar, plus its invitation's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared import ical
from shared.instants import VIETNAM, utc
from shared.text import one_line

PRODID = "-//OCOP trade promotion//events//VI"

KIND_NAMES = {
    "trade_fair": "Hội chợ thương mại",
    "exhibition": "Triển lãm",
    "showcase_point": "Điểm giới thiệu và bán sản phẩm OCOP",
}
STATUS_NAMES = {
    "published": "đã công bố",
    "inviting": "đang mời tham gia",
    "closed": "đã chốt danh sách",
    "held": "đã tổ chức",
    "cancelled": "đã hủy",
}


@dataclass(frozen=True)
class FairEntry:
    """What a calendar entry says about one fair (any object with these attributes will do)."""

    id: str
    name: str
    kind: str
    organiser: str
    venue: str
    host_province: str
    starts_on: date
    ends_on: date
    status: str
    version: int
    invitation_deadline: datetime | None = None
    cancel_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class BoothEntry:
    """A producer's place at a fair: its accepted invitation (``status`` accepted or withdrawn)."""

    invitation_id: str
    status: str
    version: int
    booths: list[int]
    status_reason: str | None
    fair: FairEntry


def _entry(
    key: str, fair: FairEntry, sequence: int, status: str, lines: list[str], busy: bool, stamp: datetime
) -> ical.Entry:
    local = ()
    if fair.invitation_deadline is not None and fair.status in ("published", "inviting"):
        local = (("x-ocop-invitation-deadline", fair.invitation_deadline),)  # in Vietnam time, with its TZID
    # every line of data on one line (the writer keeps the line breaks between them)
    return ical.Entry(
        key=key,
        summary=one_line(fair.name),
        first_day=fair.starts_on,
        last_day=fair.ends_on,
        # DTSTAMP: when the entry last changed in our store
        stamp=fair.updated_at or fair.created_at or stamp,
        sequence=sequence,
        description="\n".join(one_line(line) for line in lines),
        location=one_line(f"{fair.venue}, {fair.host_province}"),
        status=status,
        busy=busy,
        created=fair.created_at,
        modified=fair.updated_at,
        categories=(KIND_NAMES.get(fair.kind, fair.kind),),
        local=local,
    )


def _about(fair: FairEntry) -> list[str]:
    lines = [
        f"{KIND_NAMES.get(fair.kind, fair.kind)} — {STATUS_NAMES.get(fair.status, fair.status)}",
        f"Đơn vị tổ chức: {fair.organiser}",
        f"Thời gian: {fair.starts_on:%d/%m/%Y} – {fair.ends_on:%d/%m/%Y}",
        f"Địa điểm: {fair.venue}, {fair.host_province}",
    ]
    if fair.invitation_deadline is not None and fair.status in ("published", "inviting"):
        local = utc(fair.invitation_deadline).astimezone(VIETNAM)
        lines.append(f"Hạn đăng ký/trả lời lời mời: {local:%H:%M %d/%m/%Y} (giờ Việt Nam)")
    if fair.status == "cancelled":
        lines.append("Hội chợ đã bị hủy" + (f": {fair.cancel_reason}" if fair.cancel_reason else "."))
    return lines


def _feed(name: str, description: str, entries: list[ical.Entry]) -> bytes:
    # a subscribed calendar should look again every 6 hours (a hint; clients choose)
    return ical.calendar(
        entries, prodid=PRODID, name=name, description=description, refresh=timedelta(hours=6)
    ).encode()


def fairs_feed(fairs: list[FairEntry], now: datetime | None = None, name: str = "Hội chợ, triển lãm OCOP") -> bytes:
    """The public feed: one entry per announced fair, cancelled ones marked CANCELLED."""
    now = now or datetime.now(UTC)
    return _feed(
        name,
        "Các hội chợ, triển lãm và điểm giới thiệu sản phẩm OCOP đã công bố",
        [
            _entry(
                f"fair-{fair.id}",
                fair,
                fair.version,
                "CANCELLED" if fair.status == "cancelled" else "CONFIRMED",
                _about(fair),
                False,
                now,
            )
            for fair in fairs
        ],
    )


def producer_feed(producer_name: str | None, booths: list[BoothEntry], now: datetime | None = None) -> bytes:
    """A producer's calendar: the fairs it accepted, and those it will no longer attend (CANCELLED)."""
    now = now or datetime.now(UTC)
    title = f"Lịch hội chợ OCOP — {producer_name}" if producer_name else "Lịch hội chợ OCOP"
    entries = []
    for entry in booths:
        fair = entry.fair
        going = entry.status == "accepted" and fair.status != "cancelled"
        lines = _about(fair)
        if going:
            numbers = ", ".join(str(b) for b in entry.booths or [])
            lines.append(f"Gian hàng số: {numbers}" if numbers else "Đã nhận lời tham gia")
        elif fair.status != "cancelled":
            lines.append("Không còn tham gia" + (f": {entry.status_reason}" if entry.status_reason else "."))
        entries.append(
            _entry(
                f"booth-{entry.invitation_id}",
                fair,
                fair.version + entry.version,
                "CONFIRMED" if going else "CANCELLED",
                lines,
                going,
                now,
            )
        )
    return _feed(title, "Các hội chợ đã nhận lời tham gia", entries)


# ---- signed feed links ------------------------------------------------------------------------
# A calendar app subscribes by URL and cannot send a bearer token: a producer's feed is also
# reachable with a signed token naming the producer (itsdangerous, HMAC-SHA256), signed with the
# calendar-link key (shared.keys: derived from OCOP_CALENDAR_SECRET if set, else OCOP_SECRET_KEY,
# for the events service only), never the API tokens' key. It does not expire (calendars poll for
# years); rotating OCOP_CALENDAR_SECRET revokes every link at once and nothing else. ``secret``
# below is that master material (routes.feed_secret).
FEED_SALT = "ocop-calendar-feed"


def _feed_serializer(secret: str):
    import hashlib

    from itsdangerous import URLSafeSerializer

    from shared import keys

    return URLSafeSerializer(
        keys.key("calendar-link", secret), salt=FEED_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def feed_token(secret: str, producer_id: str) -> str:
    return _feed_serializer(secret).dumps({"producer_id": producer_id})


def feed_producer(secret: str, token: str) -> str | None:
    """The producer a feed token was signed for; None for a token not signed with this secret."""
    from itsdangerous import BadSignature

    try:
        claims = _feed_serializer(secret).loads(token)
    except BadSignature:
        return None
    return claims.get("producer_id") if isinstance(claims, dict) else None
