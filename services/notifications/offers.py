"""Many invitations at once: a consumer batch (a fair's publication sends hundreds) in one
transaction, with a few queries for the whole batch instead of several per invitation, and the
same outcome as reactions.react one by one. Flush, emit into the outbox, never commit."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from shared.context import caused_by
from shared.db import among

from . import domain, links
from .models import Delivery, InvitationView, Promotion, Recipient, ShortLink
from .reactions import FIELDS, message_rows, react, tell_unreachable
from .recipients import RecipientUnknown
from .views import as_datetime, aware, issued_row, record_issued

ISSUED = "events.invitation.issued"
OFFERS = tuple(m.name for m in domain.MESSAGES.values() if m.topic == "offer")


def react_many(session: Session, emit, batch: list[tuple[dict, dict]], settings, adapters: dict) -> None:
    """A consumer batch in one transaction. Invitations take the batch path below; any other event
    goes through ``react``."""
    offers = [(e, d) for e, d in batch if e["type"] == ISSUED]
    for envelope, data in batch:
        if envelope["type"] != ISSUED:
            with caused_by(envelope):
                react(session, emit, envelope, data, settings, adapters)
    if offers:
        _offers(session, emit, offers, settings, adapters)


def _offers(session: Session, emit, offers: list[tuple[dict, dict]], settings, adapters: dict) -> None:
    invitation_ids = [d["invitation_id"] for _, d in offers]
    producers = {d["producer_id"] for _, d in offers}
    conn = session.connection()  # Core and rows: these are read, never changed, here
    recipients = {
        r.producer_id: r
        for r in conn.execute(select(*Recipient.__table__.c).where(among(conn, Recipient.producer_id, producers)))
    }
    if producers - set(recipients):
        raise RecipientUnknown(f"no recipient record for {len(producers - set(recipients))} producers yet")
    # one read of the deliveries for both: this event handled already, this invitation offered already
    causes = [e["id"] for e, _ in offers]
    done, told = set(), set()
    for cause, ref, pid, template in conn.execute(
        select(Delivery.cause_event_id, Delivery.ref_id, Delivery.producer_id, Delivery.template).where(
            or_(among(conn, Delivery.cause_event_id, causes), among(conn, Delivery.ref_id, invitation_ids))
        )
    ):
        done.add(cause)
        if template in OFFERS:
            told.add((ref, pid))
    promotions = {
        p.invitation_id: p
        for p in conn.execute(
            select(*Promotion.__table__.c).where(among(conn, Promotion.invitation_id, invitation_ids))
        )
    }
    shorts = dict(
        conn.execute(
            select(ShortLink.invitation_id, ShortLink.code).where(among(conn, ShortLink.invitation_id, invitation_ids))
        ).all()
    )
    rows, new_shorts, unreachable, base = [], [], [], settings.public_base_url
    for envelope, data in offers:
        inv, pid = data["invitation_id"], data["producer_id"]
        if envelope["id"] in done or (inv, pid) in told:
            continue
        told.add((inv, pid))  # the same invitation twice in one batch: one offer
        token = links.make_token(settings.key_material("answer-link"), inv, pid, aware(as_datetime(data["deadline"])))
        if inv not in shorts:
            shorts[inv] = secrets.token_urlsafe(9)
            new_shorts.append({"code": shorts[inv], "token": token, "invitation_id": inv})
        promotion = promotions.get(inv)
        known = {
            "recipient_name": recipients[pid].name,
            "link": f"{base}/r/{token}",
            "short_link": f"{base}/r/s/{shorts[inv]}",
            "promotion": {"cause": promotion.cause, "rank": promotion.rank} if promotion else None,
        }
        kind = domain.MESSAGES["promotion" if promotion else "invitation"]
        values, gone = message_rows(envelope, kind, recipients[pid], FIELDS[kind.name](data, known), settings, adapters)
        rows += values
        if gone:
            unreachable.append((envelope, gone))
    if new_shorts:
        now = datetime.now(UTC)
        session.connection().execute(insert(ShortLink.__table__), [{**r, "created_at": now} for r in new_shorts])
    if rows:
        session.connection().execute(insert(Delivery.__table__), rows)  # Core: no ORM bulk machinery
    for envelope, data in unreachable:
        with caused_by(envelope):
            tell_unreachable(session, emit, data)
    _record_offers(session, offers)


def _record_offers(session: Session, offers: list[tuple[dict, dict]]) -> None:
    """``record_issued`` for a batch: new views in one INSERT, the (rare) known ones one by one."""
    conn = session.connection()
    known = set(
        conn.scalars(
            select(InvitationView.invitation_id).where(
                among(conn, InvitationView.invitation_id, [d["invitation_id"] for _, d in offers])
            )
        )
    )
    fresh, seen = [], set()
    for envelope, data in offers:
        inv = data["invitation_id"]
        if inv in seen:  # announced twice in this batch: recorded once
            continue
        if inv in known:
            record_issued(session, envelope, data)
            continue
        seen.add(inv)
        fresh.append(issued_row(envelope, data))
    if fresh:
        session.connection().execute(insert(InvitationView.__table__), fresh)
