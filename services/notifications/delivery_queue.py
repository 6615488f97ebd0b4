"""The delivery queue: a sender claims a batch of due deliveries, hands each message to its
provider under a lease it renews, and records each outcome.

A sender claims a batch of deliveries ("sending", committed), then for each message: commits
"handed" (handed_at) just before handing it to the provider, and its outcome as soon as the
provider answered, in the same transaction as the next message's "handed" (one commit a
message). A sender killed in between leaves deliveries "sending": once the claim runs out (or at
once, for the only sender of its database, at start) those never handed are simply sent, and the
one handed (at most one per sender) is in doubt: it is looked for at the provider where that can
be asked (the embedded sinks) and otherwise sent again under the same Message-ID /
Idempotency-Key: at least once, the repeat recognisable and said in the delivery log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select, union_all
from sqlalchemy.orm import Session

from shared.db import among

from .delivery_outcomes import (  # noqa: F401  (the outcome, importable from here as before)
    FOUND,
    INTERRUPTED,
    SENT_EVENT,
    Sent,
    hand,
    record_outcome,
    record_sent,
)
from .models import Delivery, Recipient
from .recipients import channel_problem
from .reminders import STILL_TRUE

log = logging.getLogger("ocop.notifications")


class Contact(NamedTuple):
    """Whom a claimed delivery goes to, as the channel adapters read it."""

    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A claimed delivery, as its sender needs it between the claim and the outcome."""

    id: str
    channel: str
    template: str
    language: str
    subject: str
    body_text: str
    body_html: str | None
    attachments: list | None
    sms_encoding: str | None
    sms_segments: int | None
    recipient: Contact
    claimed_until: datetime
    in_doubt: bool
    producer_id: str
    cause_event_id: str
    attempts: int  # before this attempt


_D = Delivery.__table__
_CLAIMED = (
    _D.c.id,
    _D.c.channel,
    _D.c.template,
    _D.c.language,
    _D.c.subject,
    _D.c.body_text,
    _D.c.body_html,
    _D.c.attachments,
    _D.c.sms_encoding,
    _D.c.sms_segments,
    _D.c.status,
    _D.c.handed_at,
    _D.c.attempts,
    _D.c.producer_id,
    _D.c.cause_event_id,
    _D.c.ref_id,
    _D.c.next_attempt_at,
)


def claim(
    session: Session,
    channel: str,
    limit: int,
    lease_seconds: float,
    adapters: dict,
    now: datetime | None = None,
    orphaned_before: datetime | None = None,
) -> tuple[list[Job], int]:
    """Claim up to ``limit`` due deliveries of a channel (``FOR UPDATE SKIP LOCKED``: replicas never
    take the same one) and mark the first handed; returns the jobs and how many were settled
    without sending (opted out since, or no longer true: undeliverable, cancelled). Due: queued,
    or failed with the retry due, or "sending" with its claim run out, or claimed to run out before
    ``orphaned_before`` (the only sender process of a database passes its start plus the lease:
    claims made before it started are a dead process's, its own all run out later). A few
    statements a batch, without the ORM: senders run this all day."""
    now = now or datetime.now(UTC)
    conn = session.connection()
    rows = _due(conn, channel, limit, now, orphaned_before)
    if not rows:
        return [], 0
    jobs, settled, until = [], 0, now + timedelta(seconds=lease_seconds)
    for d in rows:
        recipient = _recipient_of(d)
        problem = channel_problem(recipient, d.channel, adapters) if recipient else "recipient unknown"
        stale = STILL_TRUE[d.template](session, d) if d.template in STILL_TRUE else None
        if problem is not None or stale is not None:  # opted out, or no longer true, since it was queued
            status, why = ("undeliverable", f"{d.channel}: {problem}") if problem else ("cancelled", stale)
            conn.execute(_D.update().where(_D.c.id == d.id).values(status=status, last_error=why))
            settled += 1
            continue
        in_doubt = d.status == "sending" and d.handed_at is not None
        if in_doubt:  # the interrupted attempt counts
            log.warning(
                "delivery in doubt after an interrupted attempt", extra={"delivery_id": d.id, "channel": d.channel}
            )
        jobs.append(
            Job(
                id=d.id,
                channel=d.channel,
                template=d.template,
                language=d.language,
                subject=d.subject,
                body_text=d.body_text,
                body_html=d.body_html,
                attachments=d.attachments,
                sms_encoding=d.sms_encoding,
                sms_segments=d.sms_segments,
                recipient=Contact(recipient.name, recipient.email, recipient.phone),
                claimed_until=until,
                in_doubt=in_doubt,
                producer_id=d.producer_id,
                cause_event_id=d.cause_event_id,
                attempts=d.attempts + (1 if in_doubt else 0),
            )
        )
    if jobs:
        conn.execute(
            _D.update()
            .where(among(conn, _D.c.id, [j.id for j in jobs]))
            .values(status="sending", claimed_until=until, handed_at=None)
        )
        doubted = [j.id for j in jobs if j.in_doubt]
        if doubted:
            conn.execute(_D.update().where(_D.c.id.in_(doubted)).values(attempts=_D.c.attempts + 1))
        hand(conn, jobs[0])
    return jobs, settled


_R = Recipient.__table__
_RECIPIENT = tuple(c.label(f"r_{c.key}") for c in _R.c)


class _RecipientRow:
    """The recipient columns of a due row, read by name (as a Recipient is)."""

    __slots__ = tuple(c.key for c in _R.c)

    def __init__(self, row):
        for c in _R.c:
            setattr(self, c.key, getattr(row, f"r_{c.key}"))


def _recipient_of(row) -> _RecipientRow | None:
    """The recipient columns of a due row (None: no recipient record)."""
    return None if row.r_producer_id is None else _RecipientRow(row)


def _due_statement():
    arms = []
    for status, extra in (
        ("sending", _D.c.claimed_until <= bindparam("due_doubt")),
        ("failed", _D.c.next_attempt_at <= bindparam("due_now")),
        ("queued", _D.c.next_attempt_at <= bindparam("due_now")),
    ):
        arms.append(
            select(*_CLAIMED, *_RECIPIENT)
            .select_from(_D.outerjoin(_R, _R.c.producer_id == _D.c.producer_id))
            .where(_D.c.channel == bindparam("due_channel"), _D.c.status == status, extra)
            .order_by(_D.c.next_attempt_at)
            .limit(bindparam("due_limit"))
            .with_for_update(skip_locked=True, of=_D)
            .cte(f"due_{status}")
        )
    return union_all(*(select(arm) for arm in arms))


_DUE = _due_statement()  # built once: building it cost more than running it


def _due(conn, channel: str, limit: int, now: datetime, orphaned_before: datetime | None) -> list:
    """The due deliveries of a channel with their recipients, locked, the longest waiting first:
    one range of the (channel, status, next_attempt_at) index per status, each read no further
    than ``limit`` rows, in one statement (one locking CTE per status: PostgreSQL allows no FOR
    UPDATE in a UNION's arms). One query with an OR over the statuses read and sorted the whole
    backlog at every claim: 10 ms a batch with 10,000 messages waiting."""
    rows = conn.execute(
        _DUE,
        {"due_channel": channel, "due_limit": limit, "due_now": now, "due_doubt": max(now, orphaned_before or now)},
    ).all()
    # rows locked beyond the limit are released when the claim commits, still due
    return sorted(rows, key=lambda r: (r.status != "sending", r.next_attempt_at))[:limit]


def renew_claims(conn, jobs: list[Job], lease_seconds: float, now: datetime | None = None) -> list[Job]:
    """The claim on a batch's remaining ``jobs`` (all claimed together: one ``claimed_until``)
    extended by ``lease_seconds`` from now; returns the jobs still claimed, with their new
    ``claimed_until`` (a job whose claim ran out and was taken by another sender is dropped: that
    sender sends it). ``conn``: a connection with no transaction open (or its driver's in
    autocommit); the renewal commits on its own."""
    if not jobs:
        return []
    old, until = jobs[0].claimed_until, (now or datetime.now(UTC)) + timedelta(seconds=lease_seconds)
    with conn.begin():
        kept = set(
            conn.scalars(
                _D.update()
                .where(_D.c.id.in_([j.id for j in jobs]), _D.c.status == "sending", _D.c.claimed_until == old)
                .values(claimed_until=until)
                .returning(_D.c.id)
            )
        )
    if len(kept) < len(jobs):
        log.warning("claims lost before renewal", extra={"lost": len(jobs) - len(kept)})
    return [replace(j, claimed_until=until) for j in jobs if j.id in kept]
