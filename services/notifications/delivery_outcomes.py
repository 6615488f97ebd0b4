"""The outcome of a send, recorded (split from delivery_queue.py, which re-exports these names):
the message handed to the provider, then sent (with its notifications.delivery.sent in the outbox)
or failed (a retry after a backoff, or parked with notifications.delivery.failed)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from . import domain
from .channels import ChannelError
from .models import Delivery
from .webhooks import fan_out

if TYPE_CHECKING:
    from .delivery_queue import Job

log = logging.getLogger("ocop.notifications")

SENT_EVENT = "notifications.delivery.sent"
INTERRUPTED = (
    "its sender stopped after handing it to the provider and before recording the answer: sent again "
    "under the same Message-ID / Idempotency-Key (a duplicate is possible)"
)
FOUND = (
    "its sender stopped after handing it to the provider and before recording the answer: found at the "
    "provider, not sent again"
)


@dataclass(frozen=True, slots=True)
class Sent:
    ref: str | None
    found: bool = False  # in doubt, and found at the provider: not sent again


_D = Delivery.__table__

# Every message runs these, so they are built once (Core, on the table: no ORM unit of work).
_HAND = (
    _D.update()
    .where(_D.c.id == bindparam("p_next_id"), _D.c.claimed_until == bindparam("p_next_claim"))
    .values(handed_at=bindparam("p_now"))
)
_SENT = (
    _D.update()
    .where(_D.c.id == bindparam("p_id"), _D.c.status == "sending", _D.c.claimed_until == bindparam("p_claim"))
    .values(
        status="sent",
        sent_at=bindparam("p_now"),
        provider_ref=bindparam("p_ref"),
        claimed_until=None,
        handed_at=None,
        attempts=_D.c.attempts + bindparam("p_inc"),
        last_error=bindparam("p_note"),
    )
    .returning(_D.c.id)
)


def hand(conn, job: Job) -> None:
    """Record that the job's message goes to the provider now (committed with the claim or with the
    previous message's outcome, before the message leaves)."""
    conn.execute(_HAND, {"p_next_id": job.id, "p_next_claim": job.claimed_until, "p_now": datetime.now(UTC)})


def record_outcome(
    session: Session, emit, job: Job, outcome: Sent | ChannelError, settings, next_job: Job | None = None
) -> str | None:
    """The provider's answer to one attempt (and ``next_job`` handed, in the same transaction). Sent:
    ``record_sent``, and the webhooks following notifications.delivery.sent get it. Failed: a retry
    after a backoff, or parked (attempts used up, or refused for good) with
    notifications.delivery.failed. Returns the new status (None: the claim was lost, e.g. it ran
    out and another sender took the delivery and records its own)."""
    if isinstance(outcome, Sent):
        envelope = record_sent(session.connection(), emit, job, outcome, next_job)
        if envelope is None:
            return None
        if emit.follows(SENT_EVENT):
            fan_out(session, envelope, emit.subscriptions)
        return "sent"
    if next_job is not None:
        hand(session.connection(), next_job)
    mine = and_(Delivery.id == job.id, Delivery.status == "sending", Delivery.claimed_until == job.claimed_until)
    delivery = session.scalars(select(Delivery).where(mine).with_for_update()).first()
    if delivery is None:
        log.warning("claim lost before the outcome was recorded", extra={"delivery_id": job.id})
        return None
    delivery.claimed_until = delivery.handed_at = None
    delivery.attempts += 1
    _failed(session, emit, delivery, outcome, settings)
    return delivery.status


def record_sent(conn, emit, job: Job, outcome: Sent, next_job: Job | None = None) -> dict | None:
    """The one way a sent delivery is recorded, only if its claim still holds: ``next_job`` handed,
    this one sent, and its notifications.delivery.sent in the outbox, in ``conn``'s transaction
    (or, on PostgreSQL with the driver in autocommit, as one statement of its own). Returns the
    event's envelope (None: the claim was lost). No webhook fan-out (``record_outcome`` adds it). The
    relay is not woken for it: it takes these in batches at its next poll.

    Every message takes this path, kept short: the sender's connection is held for its batch (a
    session per message would take a connection from the pool, and ping it, each time); one
    statement on PostgreSQL, three elsewhere."""
    now = datetime.now(UTC)
    inc = 0 if outcome.found else 1
    data = {
        "delivery_id": job.id,
        "channel": job.channel,
        "template": job.template,
        "producer_id": job.producer_id,
        "cause_event_id": job.cause_event_id,
    }
    # p_: no parameter may be named like a column (SQLAlchemy would add it to an UPDATE's SET)
    params = {
        "p_now": now,
        "p_next_id": next_job.id if next_job else None,
        "p_next_claim": next_job.claimed_until if next_job else None,
        "p_ref": outcome.ref,
        "p_inc": inc,
        "p_note": (FOUND if outcome.found else INTERRUPTED) if job.in_doubt else None,
        "p_id": job.id,
        "p_claim": job.claimed_until,
    }
    if conn.dialect.name == "postgresql":
        row = emit.row(SENT_EVENT, job.id, job.attempts + inc, data)
        # Straight to the driver (psycopg): half the CPU of going through SQLAlchemy's text() on the
        # hottest path. PostgreSQL only, so run in CI on PostgreSQL (the real-mode tier, .ci/run) by
        # tests/integration/test_notifications_queue.py (every test: sent, lost claim, in doubt,
        # webhook fan-out) and test_notifications_guarantees.py::test_smtp_refuses_then_accepts_exactly_one_email.
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute(
            _sent_pg(emit.table.name),
            {
                **params,
                "o_id": row["id"],
                "o_exchange": row["exchange"],
                "o_key": row["routing_key"],
                "o_type": row["type"],
                "o_correlation": row["correlation_id"],
                "o_payload": row["payload"],
            },
        )
        envelope = json.loads(row["payload"]) if cursor.fetchone() is not None else None
    else:
        if next_job is not None:
            conn.execute(_HAND, params)
        done = conn.execute(_SENT, params).first() is not None
        envelope = emit.insert(conn, SENT_EVENT, job.id, job.attempts + inc, data) if done else None
    if envelope is None:
        log.warning("claim lost before the outcome was recorded", extra={"delivery_id": job.id})
    return envelope


@cache
def _sent_pg(outbox: str) -> str:
    """``_HAND``, ``_SENT`` and the outbox row in one statement (data-modifying CTEs run once, read
    or not): the outbox row only if the claim held."""
    return f"""
        WITH handed AS (UPDATE deliveries SET handed_at = %(p_now)s
                        WHERE id = %(p_next_id)s AND claimed_until = %(p_next_claim)s),
             sent AS (UPDATE deliveries SET status = 'sent', sent_at = %(p_now)s, provider_ref = %(p_ref)s,
                                            claimed_until = NULL, handed_at = NULL, attempts = attempts + %(p_inc)s,
                                            last_error = %(p_note)s
                      WHERE id = %(p_id)s AND status = 'sending' AND claimed_until = %(p_claim)s RETURNING id)
        INSERT INTO {outbox} (id, exchange, routing_key, type, correlation_id, payload, created_at, sent_at)
        SELECT %(o_id)s, %(o_exchange)s, %(o_key)s, %(o_type)s, %(o_correlation)s, %(o_payload)s, %(p_now)s, NULL
        FROM sent RETURNING id"""


def _failed(session: Session, emit, delivery, exc: ChannelError, settings) -> None:
    delivery.last_error = str(exc)[:1000]
    limit = settings.channel_attempts.get(delivery.channel, 5)
    if exc.permanent or delivery.attempts >= limit:
        delivery.status = "parked"
        log.error(
            "delivery parked",
            extra={
                "delivery_id": delivery.id,
                "channel": delivery.channel,
                "attempts": delivery.attempts,
                "permanent": exc.permanent,
            },
        )
        emit(
            session,
            "notifications.delivery.failed",
            delivery.id,
            delivery.attempts,
            {
                "delivery_id": delivery.id,
                "channel": delivery.channel,
                "template": delivery.template,
                "producer_id": delivery.producer_id,
                "cause_event_id": delivery.cause_event_id,
                "attempts": delivery.attempts,
                "error": delivery.last_error,
            },
        )
    else:
        delivery.status = "failed"
        delivery.next_attempt_at = domain.next_attempt_at(
            datetime.now(UTC),
            delivery.attempts,
            exc.retry_after,
            settings.retry_base_seconds,
            settings.retry_max_seconds,
        )
        log.warning(
            "delivery failed; will retry",
            extra={"delivery_id": delivery.id, "channel": delivery.channel, "attempt": delivery.attempts},
        )
    session.flush()
