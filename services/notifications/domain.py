"""Pure rules of the notifications service: which event becomes which message for whom, when a
channel may be used, how an SMS is encoded and sized, backoff, rate limits, webhook signatures
and keeping personal data out of logs. No Flask, no SQLAlchemy, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.retry import backoff_seconds

from .sms_text import (  # noqa: F401  (the SMS text rules, importable from here as before)
    CLIPS,
    GSM7_BASIC,
    GSM7_EXTENSION,
    LIMITS,
    SMS_MODES,
    Sms,
    count_segments,
    encode_sms,
    fit_sms,
    is_gsm7,
    unaccent,
)

# ---- which event becomes which message ---------------------------------------------------------
PRODUCER_CHANNELS = ("email", "sms")  # how a producer is reached; webhooks serve integrating services


@dataclass(frozen=True)
class MessageKind:
    """One message the service sends: a folder of templates under ``templates/messages/<name>/``
    (``subject.txt``, ``body.txt``, ``body.html``, ``sms.txt`` and, for ``calendar``, ``calendar.txt``),
    filled from the data of ``event_type`` (whose golden sample is the preview's sample data)."""

    name: str
    event_type: str
    audience: str  # who receives it, resolved by reactions.AUDIENCES (e.g. "producer": data.producer_id)
    calendar: bool = False  # attach an iCalendar file of the fair (the invitation's entry, kept up to date)
    answer_link: bool = False  # carries the signed, single-purpose answer link
    # Messages of one topic are sent at most once per producer and subject (ref_id), whichever event
    # asks first: an invitation promoted from the waitlist is announced by two events.
    topic: str | None = None


MESSAGES: dict[str, MessageKind] = {
    m.name: m
    for m in (
        MessageKind(
            "invitation", "events.invitation.issued", "producer", calendar=True, answer_link=True, topic="offer"
        ),
        # the same offer, worded for a producer moved up from the waitlist (events.waitlist.promoted came first)
        MessageKind(
            "promotion", "events.invitation.issued", "producer", calendar=True, answer_link=True, topic="offer"
        ),
        # before the invitation's deadline, while unanswered (worker loop, not an event: sample of the offer)
        MessageKind("reminder", "events.invitation.issued", "producer", answer_link=True),
        MessageKind("withdrawn", "events.invitation.withdrawn", "producer", calendar=True),
        MessageKind("fair_updated", "events.fair.updated", "fair", calendar=True),
        MessageKind("fair_cancelled", "events.fair.cancelled", "fair", calendar=True),
        MessageKind("accepted", "events.invitation.accepted", "producer", calendar=True),
        MessageKind("declined", "events.invitation.declined", "producer", calendar=True),
        MessageKind("answer_refused", "events.invitation.answer_refused", "producer"),
        MessageKind("certificate_expiring", "registry.certification.expiring", "producer"),
        MessageKind("certificate_expired", "registry.certification.expired", "producer"),
    )
}

# Event type -> the message sent for it (reactions.CONTEXTS may pick a variant, e.g. the
# promotion, or nobody: a withdrawal caused by the fair's cancellation is told by the cancellation).
# A new reaction is one MessageKind, one line here, a template folder and a field function in
# fields.FIELDS; an audience other than "producer" or "fair" is one function in reactions.AUDIENCES.
REACTIONS: dict[str, str] = {
    "events.invitation.issued": "invitation",
    "events.invitation.withdrawn": "withdrawn",
    "events.fair.updated": "fair_updated",
    "events.fair.cancelled": "fair_cancelled",
    "events.invitation.accepted": "accepted",
    "events.invitation.declined": "declined",
    "events.invitation.answer_refused": "answer_refused",
    "registry.certification.expiring": "certificate_expiring",
    "registry.certification.expired": "certificate_expired",
}

# What a producer who was invited cares about when a fair changes (capacity, rules, budget: not).
PRODUCER_FAIR_FIELDS = (
    "name",
    "venue",
    "host_province",
    "starts_on",
    "ends_on",
    "subsidy_per_booth",
    "organiser",
    "organiser_contact",
    "organiser_phone",
    "organiser_email",
)
CALENDAR_FAIR_FIELDS = ("name", "venue", "host_province", "starts_on", "ends_on")
# Open invitations (an answer may still come) and accepted ones: who hears about a fair's changes.
OPEN_STATUSES = ("issued", "accepted")


def fair_changes(changed: list[str], before: dict, after: dict) -> list[dict]:
    """The changes worth telling an invited producer, in a fixed order: ``[{field, old, new}]``.
    The dates go as one change ("dates") since they are read together."""
    wanted = [f for f in PRODUCER_FAIR_FIELDS if f in changed]
    out = []
    for f in wanted:
        if f in ("starts_on", "ends_on"):
            if not any(c["field"] == "dates" for c in out):
                out.append(
                    {
                        "field": "dates",
                        "old": (before.get("starts_on"), before.get("ends_on")),
                        "new": (after.get("starts_on"), after.get("ends_on")),
                    }
                )
            continue
        out.append({"field": f, "old": before.get(f), "new": after.get(f)})
    return out


def withdrawal_cause(reason: str) -> tuple[str, str | None]:
    """Why an invitation was withdrawn, as a kind of reason with its own translated sentence, and
    the part of the events service's words worth quoting (the organiser's note, the product).
    The contract's ``reason`` is free text in English: anything not recognised is quoted whole."""
    text = " ".join((reason or "").split())
    low = text.lower()
    if low.startswith("the fair was cancelled"):
        return "fair_cancelled", text.partition(":")[2].strip() or None
    if low.startswith("withdrawn by the organiser"):
        return "organiser", text.partition(":")[2].strip() or None
    m = re.match(r"the certificate of (.+?) was (revoked|expired)\b", text, re.I)
    if m:
        return f"certificate_{m.group(2).lower()}", m.group(1)
    if "every booth" in low or "quota" in low:
        return "fair_full", None
    return "other", text or None


def withdrawal_of(data: dict) -> tuple[str, str | None]:
    """``withdrawal_cause`` of an events.invitation.withdrawn: its ``cause`` code and ``detail``
    when it carries them (events since they were added), else read from the reason's words."""
    cause, detail = withdrawal_cause(data.get("reason") or "")
    if data.get("cause"):
        return data["cause"], data.get("detail") or (detail if cause == data["cause"] else None)
    return cause, detail


def refusal_of(data: dict) -> tuple[str, str | None]:
    """``refusal_cause`` of an events.invitation.answer_refused, its ``cause`` code first (the
    detail, the clashing fair, is still read from the reason's words)."""
    cause, detail = refusal_cause(data.get("reason") or "")
    if data.get("cause"):
        return data["cause"], detail if cause == data["cause"] else None
    return cause, detail


def refusal_cause(reason: str) -> tuple[str, str | None]:
    """Why the events service could not apply an answer (``events.invitation.answer_refused``), as a
    kind with its own translated sentence, and what to quote (the clashing fair; unknown: all)."""
    text = " ".join((reason or "").split())
    low = text.lower()
    m = re.search(r"exhibiting at (.+?) \(", text)
    if m or "overlap" in low:
        return "clash", m.group(1) if m else None
    if ("deadline" in low and "pass" in low) or "quá hạn" in low:
        return "deadline_passed", None
    if "waitlist" in low:
        return "waitlisted", None
    if re.search(r"already (accepted|declined|answered)", low) or "đã được trả lời" in low:
        return "already_answered", None
    if re.search(r"already (expired|withdrawn)", low):
        return "closed", None
    if "every booth" in low or "quota" in low:
        return "fair_full", None
    return "other", text or None


CALENDAR_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def calendar_sequence(occurred_at: datetime | None) -> int:
    """SEQUENCE of a calendar entry sent later about the same invitation (same UID): seconds since
    2024, so every later event's file replaces the earlier one in the producer's calendar. The
    first invitation is 0."""
    if occurred_at is None:
        return 0
    return max(int((occurred_at - CALENDAR_EPOCH).total_seconds()), 1)


# ---- reminders ------------------------------------------------------------------------------------
def reminder_due(deadline: datetime, issued_at: datetime | None, now: datetime, offsets: tuple[int, ...]) -> int | None:
    """Which reminder (days before the deadline) is due now for an unanswered invitation, if any:
    the latest whose moment has come (a worker that was down sends one, not every missed one), and
    only one whose moment came after the invitation was issued (a producer promoted two days before
    the deadline gets no "three days left" reminder the moment the invitation arrives)."""
    if now >= deadline:
        return None
    due = [d for d in offsets if deadline - timedelta(days=d) <= now]
    if not due:
        return None
    days = min(due)
    if issued_at is not None and deadline - timedelta(days=days) <= issued_at:
        return None
    return days


def parse_offsets(value: str | None, default: tuple[int, ...] = (3, 1)) -> tuple[int, ...]:
    """``OCOP_REMINDER_DAYS`` ("3,1"; empty: the default; "0" or "none": no reminders)."""
    if value is None or not value.strip():
        return default
    if value.strip().lower() in ("0", "none", "off"):
        return ()
    try:
        out = sorted({int(v) for v in value.replace(" ", "").split(",") if v}, reverse=True)
    except ValueError:
        out = [0]  # not a list of days: refused below, naming the variable
    if any(d < 1 or d > 60 for d in out):
        raise ValueError(f"OCOP_REMINDER_DAYS={value!r}: days between 1 and 60, e.g. 3,1")
    return tuple(out)


# ---- channels ---------------------------------------------------------------------------------
def channel_problem(
    channel: str, *, address: str | None, consent: bool, opted_out: bool, configured: bool
) -> str | None:
    """Why a producer cannot be reached on a channel (None: it can). Never names the address."""
    if not configured:
        return "channel not configured"
    if not address:
        return "no email address" if channel == "email" else "no mobile number"
    if not consent:
        return "no consent"
    if opted_out:
        return "opted out"
    return None


_VN_MOBILE = re.compile(r"^\+84[35789]\d{8}$")


def mobile_number(phone: str | None) -> str | None:
    """The number in E.164 form if it can receive an SMS, else None. Vietnamese numbers must be
    mobile (+84 3x/5x/7x/8x/9x, 9 digits after 84): a landline (0275 3822 123) cannot."""
    if not phone:
        return None
    digits = re.sub(r"[\s.()\-]", "", phone)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("0"):
        digits = "+84" + digits[1:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "+" + digits
    if not re.fullmatch(r"\+\d{8,15}", digits):
        return None
    if digits.startswith("+84"):
        return digits if _VN_MOBILE.match(digits) else None
    return digits


# ---- retries, rate limits -----------------------------------------------------------------------
def next_attempt_at(now: datetime, attempts: int, retry_after: float | None, base: float, cap: float) -> datetime:
    """When a failed delivery (a message or a webhook's) is tried again: ``backoff_seconds`` (shared.retry) after
    ``attempts`` failed ones, or later if the receiver asked (Retry-After)."""
    return now + timedelta(seconds=max(backoff_seconds(attempts, base, cap), retry_after or 0))


class RateLimit:
    """Token bucket: at most ``per_second`` sends a second on average, bursts up to ``burst``.
    ``per_second`` 0 means no limit. One per channel per worker process."""

    def __init__(self, per_second: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = per_second
        self.capacity = burst if burst is not None else max(1.0, per_second)
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def ready(self) -> bool:
        if self.rate <= 0:
            return True
        self._refill()
        return self.tokens >= 1

    def take(self) -> None:
        if self.rate > 0:
            self._refill()
            self.tokens -= 1

    def wait_seconds(self) -> float:
        if self.rate <= 0:
            return 0.0
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


# ---- webhooks -------------------------------------------------------------------------------------
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept between our timestamp and its clock


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``X-OCOP-Signature``: ``sha256=`` + hex HMAC-SHA256 over ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE,
) -> bool:
    """What a receiver does (README has the same in a few lines): a fresh timestamp and a matching
    signature, compared in constant time."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


# ---- personal data ------------------------------------------------------------------------------
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_PHONE_CANDIDATE = re.compile(r"\+?\d[\d .()\-]{6,20}\d")


def redact(text: str | None) -> str | None:
    """An error text fit for a log or the delivery log: email addresses and phone numbers (9 or
    more digits) replaced. SMTP servers echo the recipient in their refusals."""
    if text is None:
        return None
    text = _EMAIL.sub("[email]", text)
    return _PHONE_CANDIDATE.sub(lambda m: "[phone]" if sum(ch.isdigit() for ch in m.group()) >= 9 else m.group(), text)


def mask_email(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str | None) -> str | None:
    if not number:
        return None
    return number[:3] + "*" * max(len(number) - 6, 1) + number[-3:]
