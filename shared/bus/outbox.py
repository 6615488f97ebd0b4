"""Transactional outbox and inbox tables, ``emit()``, and the relay.

A state change and its events are committed in one transaction (``emit`` only adds a row to
the caller's session). The relay claims unsent rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so several relay replicas never publish the same row concurrently), publishes them with
confirms and marks them sent in the same transaction, which commits only after the broker
confirmed every message of the batch. A crash between confirm and commit publishes the batch
again: consumers are idempotent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, bindparam, func, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .. import context
from ..contracts import make_envelopes
from ..retry import Backoff
from . import metrics
from .publisher import OutgoingMessage, Publisher, PublishError
from .topology import EVENTS_EXCHANGE

log = logging.getLogger("ocop.outbox")

# Wakes the relay as soon as a transaction with events commits (same process only; the
# relay polls as well, so other processes' commits are picked up within the poll interval).
outbox_signal = threading.Event()


def utcnow() -> datetime:
    return datetime.now(UTC)


def define_models(Base):
    """Outbox and inbox models bound to one service's metadata."""

    class OutboxMessage(Base):
        __tablename__ = "outbox"
        seq: Mapped[int] = mapped_column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        )
        id: Mapped[str] = mapped_column(String(36), unique=True)
        exchange: Mapped[str] = mapped_column(String(100))
        routing_key: Mapped[str] = mapped_column(String(200))
        type: Mapped[str] = mapped_column(String(200))
        correlation_id: Mapped[str | None] = mapped_column(String(100))
        payload: Mapped[str] = mapped_column(Text)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
        __table_args__ = (
            Index(
                "ix_outbox_unsent",
                "seq",
                postgresql_where=text("sent_at IS NULL"),
                sqlite_where=text("sent_at IS NULL"),
            ),
        )

    class InboxMessage(Base):
        __tablename__ = "inbox"
        consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
        event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
        event_type: Mapped[str] = mapped_column(String(200))
        processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    return OutboxMessage, InboxMessage


def acting() -> dict | None:
    """Who acts in the current request (its token's or session's principal), for the envelope's
    ``actor``; None outside a request (a worker, a command) or without a principal."""
    from flask import g, has_request_context

    claims = g.get("principal") if has_request_context() else None
    if not claims:
        return None
    return {
        "id": str(claims["sub"])[:100],
        "name": str(claims.get("name") or claims["sub"])[:200],
        "role": claims["role"],
    }


class Emitter:
    """Adds events to a session's outbox; bound to one service (its name and outbox model). With an
    ``audit_model`` (the service's ``audit_log``, shared/audit.py), each event a person's or an
    integration's request causes is also an audit entry, in the same transaction: who, the event
    type as what, its subject."""

    audit_model = None

    def __init__(self, service: str, outbox_model, exchange: str = EVENTS_EXCHANGE):
        self.service = service
        self.model = outbox_model
        self.exchange = exchange

    def _audit(self, session: Session, envelopes: list[dict]) -> None:
        if self.audit_model is None or not envelopes or not envelopes[0].get("actor"):
            return
        from shared.audit import record

        who = envelopes[0]["actor"]
        if len(envelopes) > 20:  # a bulk write (an import, a replay): one entry per event type
            counts: dict[str, int] = {}
            for e in envelopes:
                counts[e["type"]] = counts.get(e["type"], 0) + 1
            for type_, n in counts.items():
                record(session, self.audit_model, type_, f"{n} subjects", {"events": n}, who=who)
            return
        for e in envelopes:
            record(session, self.audit_model, e["type"], e["subject"], who=who)

    @property
    def table(self):
        """The outbox table (for Core statements)."""
        return self.model.__table__

    def __call__(
        self,
        session: Session,
        type_: str,
        subject: str,
        subject_version: int,
        data: dict,
        version: int = 1,
        *,
        exchange: str | None = None,
        routing_key: str | None = None,
        correlation_id: str | None = None,
    ) -> dict:
        """An event on the service's exchange, routed by its type; or (``exchange``, ``routing_key``) a
        message routed elsewhere, such as a reply to one integration (``correlation_id``: the command's)."""
        row = self.row(
            type_,
            subject,
            subject_version,
            data,
            version,
            exchange=exchange,
            routing_key=routing_key,
            correlation_id=correlation_id,
        )
        session.add(self.model(**row))
        wake_relay(session)
        envelope = json.loads(row["payload"])
        self._audit(session, [envelope])
        return envelope

    def row(
        self,
        type_: str,
        subject: str,
        subject_version: int,
        data: dict,
        version: int = 1,
        *,
        exchange: str | None = None,
        routing_key: str | None = None,
        correlation_id: str | None = None,
    ) -> dict:
        """The outbox row of one event (its envelope checked against the contract; correlation and
        causation from ``shared.context``), as column values."""
        [envelope] = make_envelopes(
            self.service,
            [(type_, subject, subject_version, data)],
            version,
            correlation_id or context.correlation_id.get(),
            context.causation_id.get(),
            acting(),
        )
        return _row(envelope, exchange or self.exchange, routing_key or type_, utcnow())

    def insert(
        self, conn, type_: str, subject: str, subject_version: int, data: dict, version: int = 1, **routing
    ) -> dict:
        """``row`` inserted by one Core statement on ``conn`` (in its transaction), without the ORM
        and without waking the relay; returns the envelope."""
        row = self.row(type_, subject, subject_version, data, version, **routing)
        conn.execute(self._insert, [row])
        return json.loads(row["payload"])

    @cached_property
    def _insert(self):
        return self.table.insert()

    def many(self, session: Session, events, version: int = 1, *, correlation_id: str | None = None) -> int:
        """Add many events to a session's outbox at once (a bulk import, a replay): ``events`` are
        ``(type, subject, subject_version, data)`` tuples. The envelopes are those of one call
        each, every one checked against its contract, and go in by one executemany INSERT (rows
        in the order given) instead of one ORM flush per row. Returns how many were added."""
        envelopes = make_envelopes(
            self.service,
            list(events),
            version,
            correlation_id or context.correlation_id.get(),
            context.causation_id.get(),
            acting(),
        )
        if not envelopes:
            return 0
        now = utcnow()
        session.execute(self._insert, [_row(e, self.exchange, e["type"], now) for e in envelopes])
        wake_relay(session)
        self._audit(session, envelopes)
        return len(envelopes)


def _row(envelope: dict, exchange: str, routing_key: str, now: datetime) -> dict:
    return {
        "id": envelope["id"],
        "exchange": exchange,
        "routing_key": routing_key,
        "type": envelope["type"],
        "correlation_id": envelope["correlation_id"],
        "payload": json.dumps(envelope, ensure_ascii=False),
        "created_at": now,
        "sent_at": None,
    }


def wake_relay(session: Session) -> None:
    """The relay of this process publishes as soon as the session commits (not at its next poll)."""
    session.info["has_outbox"] = True


def dont_wake_relay(session: Session) -> None:
    """Leave this session's events to the relay's next poll (one event each is not worth a wake-up)."""
    session.info.pop("has_outbox", None)


def install_commit_signal(session_factory) -> None:
    from sqlalchemy import event

    @event.listens_for(session_factory, "after_commit")
    def _wake(session):
        if session.info.pop("has_outbox", False):
            outbox_signal.set()


@dataclass
class _Batch:
    session: Session
    size: int
    last_seq: int
    ticket: tuple[int, int]


class Relay:
    """Publishes a service's outbox. Thread-confined (it owns its publisher)."""

    def __init__(
        self,
        service: str,
        session_factory,
        outbox_model,
        publisher: Publisher,
        batch_size: int = 100,
        poll_interval: float = 0.2,
        max_batches: int = 10,
        in_flight: int = 2,
    ):
        self.service = service
        self.session_factory = session_factory
        self.model = outbox_model
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_batches = max_batches  # per run_once call
        self.in_flight = in_flight  # batches published and awaiting their confirms at once (PostgreSQL)

    def run_once(self) -> int:
        """Publish unsent rows, up to ``max_batches`` batches; returns how many rows were sent.

        Each batch is one transaction: claim the oldest unsent rows (``FOR UPDATE SKIP
        LOCKED``) and mark them sent, publish them, and commit only once the broker confirmed
        every message of the batch; a failure rolls the marks back, so the rows count as sent
        only after their confirms. On PostgreSQL the next batch is claimed and published (in its
        own transaction) while the confirms of the previous one are on their way; SQLite allows
        one writer, so there batches go one after the other. Everything a call published is
        committed or rolled back before it returns.
        """
        pending: list[_Batch] = []
        sent = 0
        after = None
        try:
            for _ in range(self.max_batches):
                batch = self._start_batch(after)
                if batch is not None:
                    pending.append(batch)
                    after = batch.last_seq
                depth = 1 if batch is None else self._depth(batch.session)
                while pending and len(pending) >= depth:
                    sent += self._finish(pending.pop(0))
                if batch is None or batch.size < self.batch_size:
                    break
            while pending:
                sent += self._finish(pending.pop(0))
        finally:
            for batch in pending:  # an earlier batch failed: these are not confirmed either
                batch.session.close()
        return sent

    def _depth(self, session: Session) -> int:
        return 1 if session.get_bind().dialect.name == "sqlite" else max(1, self.in_flight)

    def _start_batch(self, after: int | None) -> _Batch | None:
        """Claim and mark one batch and publish it (without waiting for confirms), in a
        transaction left open for ``_finish``.

        ``after``: the last seq this call claimed. Later batches of a call start there instead
        of stepping over (and trying to lock) the rows still in flight; a row committed late
        with a smaller seq is left for the next call.
        """
        table = self.model.__table__
        session = self.session_factory()
        try:
            session.begin()
            # One Core statement claims and marks the batch (UPDATE ... WHERE seq IN (SELECT ...
            # FOR UPDATE SKIP LOCKED) RETURNING ...): a SELECT then an UPDATE cost the database
            # twice the work, and through the ORM the statements cost more than the database did
            # (bench/relay.py). The marks become visible only with the commit, after the confirms.
            conn = session.connection()
            rows = conn.execute(
                self._claim_statement(table, after is not None), {"after": after, "now": utcnow()}
            ).all()
            if not rows:
                session.close()
                return None
            rows.sort(key=lambda r: r.seq)  # RETURNING has no order; publish in outbox order
            ticket = self.publisher.send(
                [
                    OutgoingMessage(
                        exchange=r.exchange,
                        routing_key=r.routing_key,
                        body=r.payload,
                        message_id=r.id,
                        type=r.type,
                        correlation_id=r.correlation_id,
                        headers={"source": self.service},
                    )
                    for r in rows
                ]
            )
        except BaseException:
            session.close()  # rolls back: the rows stay unsent
            raise
        return _Batch(session, len(rows), rows[-1].seq, ticket)

    def _finish(self, batch: _Batch) -> int:
        try:
            self.publisher.confirm(batch.ticket)
            batch.session.commit()
        finally:
            batch.session.close()
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(batch.size)
        return batch.size

    def _claim_statement(self, table, after: bool):
        c = table.c
        claim = select(c.seq).where(c.sent_at.is_(None))
        if after:
            claim = claim.where(c.seq > bindparam("after"))
        claim = claim.order_by(c.seq).limit(self.batch_size).with_for_update(skip_locked=True)
        return (
            update(table)
            .where(c.seq.in_(claim.scalar_subquery()))
            .values(sent_at=bindparam("now"))
            .returning(c.seq, c.id, c.exchange, c.routing_key, c.type, c.correlation_id, c.payload)
        )

    def run_forever(self, stop: threading.Event) -> None:
        backoff = Backoff(0.5, 15)
        while not stop.is_set():
            try:
                sent = self.run_once()
                backoff.reset()
            except PublishError as exc:
                log.warning("relay publish failed, will retry", extra={"error": str(exc), "service": self.service})
                stop.wait(backoff.next())
                continue
            except Exception:  # database down, etc.: keep the relay alive
                log.exception("relay iteration failed", extra={"service": self.service})
                stop.wait(backoff.next())
                continue
            if sent < self.batch_size:
                outbox_signal.wait(self.poll_interval)
                outbox_signal.clear()
        self.publisher.close()


def outbox_lag_seconds(session: Session, outbox_model) -> float:
    oldest = session.execute(select(func.min(outbox_model.created_at)).where(outbox_model.sent_at.is_(None))).scalar()
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - oldest).total_seconds())


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll for an outcome with a deadline (used by commands and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)
