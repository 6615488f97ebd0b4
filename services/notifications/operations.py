"""State changes of the notifications service. Flush, emit into the outbox, never commit."""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, insert, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import context
from shared.db import among, new_id
from shared.errors import Conflict, NotFound

from . import domain, fields, links, rendering
from .channels import ChannelError
from .models import (
    Answer,
    Delivery,
    InvitationView,
    Promotion,
    Recipient,
    ShortLink,
    WebhookDelivery,
    WebhookSubscription,
)

log = logging.getLogger("ocop.notifications")


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# ---- recipients ----------------------------------------------------------------------------------
def upsert_recipient(session: Session, envelope: dict, data: dict) -> None:
    row = session.get(Recipient, data["producer_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return
    if row is None:
        row = Recipient(producer_id=data["producer_id"], opt_out_email=False, opt_out_sms=False)
        session.add(row)
    row.name = data["name"]
    row.email = data.get("email")
    row.phone = data.get("phone")
    row.language = data.get("preferred_language") or "vi"
    row.consent_email = data["consent"]["email"]
    row.consent_sms = data["consent"]["sms"]
    row.source_version = envelope["subject_version"]
    session.flush()


class RecipientUnknown(Exception):
    """Transient: the producer's registry event has not arrived yet (retried, then parked)."""


def channel_problems(recipient: Recipient, adapters: dict) -> dict[str, str | None]:
    """Per producer channel: None if usable, else why not (no address is ever named)."""
    return {channel: channel_problem(recipient, channel, adapters) for channel in domain.PRODUCER_CHANNELS}


def channel_problem(recipient, channel: str, adapters: dict) -> str | None:
    """Why ``recipient`` (a Recipient or a row of its table) cannot be reached on ``channel``, or None."""
    adapter = adapters.get(channel)
    return domain.channel_problem(
        channel, address=adapter.address(recipient) if adapter else None,
        consent=getattr(recipient, f"consent_{channel}"), opted_out=getattr(recipient, f"opt_out_{channel}"),
        configured=bool(adapter and adapter.configured))


def get_recipient(session: Session, producer_id: str) -> Recipient:
    row = session.get(Recipient, producer_id)
    if row is None:
        raise NotFound("no such recipient (the registry has not announced this producer)", field="producer_id")
    return row


def set_channels(session: Session, producer_id: str, choices: dict[str, bool]) -> Recipient:
    """A producer's own choice per channel: False opts out, True opts back in (consent recorded by
    the registry is still needed)."""
    row = session.get(Recipient, producer_id, with_for_update=True)
    if row is None:
        raise NotFound("no such recipient (the registry has not announced this producer)", field="producer_id")
    for channel, wanted in choices.items():
        setattr(row, f"opt_out_{channel}", not wanted)
    session.flush()
    return row


# ---- reacting to events: who gets which message on which channel ---------------------------------
def _links(session: Session, settings, invitation_id: str, producer_id: str, deadline) -> dict:
    token = links.make_token(settings.secret_key, invitation_id, producer_id, aware(_dt(deadline)))
    short = short_link(session, invitation_id, token)
    return {"link": f"{settings.public_base_url}/r/{token}", "short_link": f"{settings.public_base_url}/r/s/{short}"}


def _dt(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def view_dict(view: InvitationView) -> dict:
    return {"invitation_id": view.invitation_id, "producer_id": view.producer_id, "fair": view.fair,
            "products": view.products, "deadline": aware(view.deadline), "status": view.status,
            "booths": view.booths or ([view.booth] if view.booth else [])}


def _view_of(session: Session, data: dict) -> InvitationView | None:
    view = session.get(InvitationView, data["invitation_id"])
    if view is None:  # never announced to the producer (e.g. still waitlisted): nothing to tell
        log.info("no invitation known to its producer; no message", extra={"invitation_id": data["invitation_id"]})
    return view


def _fair_view(session: Session, data: dict, producer_id: str) -> InvitationView | None:
    return session.scalars(select(InvitationView).where(InvitationView.fair_id == data["fair_id"],
                                                        InvitationView.producer_id == producer_id)).first()


# Per message: what the consumer knows beyond the event's data (the template's fields come from
# fields.FIELDS). None: nothing to send to this producer. A "message" key picks a variant.
def _offer_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict:
    promotion = session.get(Promotion, data["invitation_id"])
    return {"recipient_name": recipient.name,
            **_links(session, settings, data["invitation_id"], data["producer_id"], data["deadline"]),
            "promotion": {"cause": promotion.cause, "rank": promotion.rank} if promotion else None,
            "message": "promotion" if promotion else "invitation"}


def _invitation_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict | None:
    view = _view_of(session, data)
    if view is None:
        return None
    return {"recipient_name": recipient.name, "invitation": view_dict(view), "occurred_at": envelope["occurred_at"]}


def _withdrawn_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict | None:
    if domain.withdrawal_of(data)[0] == "fair_cancelled":
        return None  # events.fair.cancelled tells every producer of the fair, once
    if data["previous_status"] not in domain.OPEN_STATUSES:
        return None  # it was still waitlisted: the producer never heard of it
    return _invitation_known(session, envelope, data, recipient, settings)


def _fair_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict | None:
    view = _fair_view(session, data, recipient.producer_id)
    if view is None:
        return None
    if envelope["type"] == "events.fair.updated":
        if view.fair_version >= envelope["subject_version"]:
            return None  # a newer state of the fair was applied already: this change is old news
        if not domain.fair_changes(data["changed"], view.fair, data):
            return None  # capacity, rules, budget: nothing a producer needs to hear about
    known = {"recipient_name": recipient.name, "invitation": view_dict(view), "occurred_at": envelope["occurred_at"]}
    if view.status == "issued":
        known.update(_links(session, settings, view.invitation_id, view.producer_id, view.deadline))
    return known


def _certificate_known(session: Session, envelope: dict, data: dict, recipient: Recipient, settings) -> dict:
    return {"recipient_name": recipient.name}


CONTEXTS = {"invitation": _offer_known, "withdrawn": _withdrawn_known, "fair_updated": _fair_known,
            "fair_cancelled": _fair_known, "accepted": _invitation_known, "declined": _invitation_known,
            "answer_refused": _invitation_known, "certificate_expiring": _certificate_known,
            "certificate_expired": _certificate_known}
FIELDS = fields.FIELDS


def _producer_audience(session: Session, envelope: dict, data: dict) -> list[str]:
    return [data["producer_id"]]


def _fair_audience(session: Session, envelope: dict, data: dict) -> list[str]:
    """Producers with an open or accepted invitation to the fair (and, for its cancellation, those
    whose invitation the cancellation withdrew: their withdrawal may have arrived first)."""
    told = InvitationView.status.in_(domain.OPEN_STATUSES)
    if envelope["type"] == "events.fair.cancelled":
        told = or_(told, and_(InvitationView.status == "withdrawn", InvitationView.withdrawn_cause == "fair_cancelled"))
    q = select(InvitationView.producer_id).where(InvitationView.fair_id == data["fair_id"], told)
    return list(session.scalars(q.order_by(InvitationView.producer_id)))


# audience name -> the producers it names for an event
AUDIENCES = {"producer": _producer_audience, "fair": _fair_audience}


def preview_context(name: str, data: dict, recipient_name: str, public_url: str) -> dict:
    """The fields a template gets for event data, without touching the database (previews): what
    the database would know comes from the golden sample of events.invitation.issued."""
    from shared.contracts import parse_envelope, sample

    _, issued = parse_envelope(sample("events.invitation.issued", 1))
    invitation = {"invitation_id": data.get("invitation_id") or issued["invitation_id"], "fair": issued["fair"],
                  "products": issued["products"], "deadline": issued["deadline"]}
    known = fields.preview_known(name, data, recipient_name, public_url, invitation, datetime.now(UTC))
    return FIELDS[name](data, known)


def short_link(session: Session, invitation_id: str, token: str) -> str:
    row = session.scalars(select(ShortLink).where(ShortLink.invitation_id == invitation_id)).first()
    if row is None:
        row = ShortLink(code=secrets.token_urlsafe(9), token=token, invitation_id=invitation_id)
        session.add(row)
    elif row.token != token:
        row.token = token
    session.flush()
    return row.code


def resolve_short_link(session: Session, code: str) -> str:
    row = session.get(ShortLink, code)
    if row is None:
        raise NotFound("no such link", field="code")
    return row.token


def react(session: Session, emit, envelope: dict, data: dict, settings, adapters: dict) -> list[Delivery]:
    """What an event calls for: the message of domain.REACTIONS, queued once per producer and
    channel, then the event's mark on this service's own records (RECORDS: after the messages,
    which read the state before the event, e.g. a fair's venue before it changed)."""
    out = []
    name = domain.REACTIONS.get(envelope["type"])
    if name is not None:
        kind = domain.MESSAGES[name]
        for producer_id in AUDIENCES[kind.audience](session, envelope, data):
            out += _message_for(session, emit, envelope, data, kind, producer_id, settings, adapters)
    record = RECORDS.get(envelope["type"])
    if record is not None:
        record(session, envelope, data)
    return out


def _message_for(session: Session, emit, envelope: dict, data: dict, kind: domain.MessageKind, producer_id: str,
                 settings, adapters: dict) -> list[Delivery]:
    done = list(session.scalars(select(Delivery).where(Delivery.cause_event_id == envelope["id"],
                                                       Delivery.producer_id == producer_id)))
    if done:  # the inbox already drops a redelivered event; this holds even without it
        return done
    recipient = session.get(Recipient, producer_id)
    if recipient is None:
        raise RecipientUnknown(f"no recipient record for producer {producer_id} yet")
    known = CONTEXTS[kind.name](session, envelope, data, recipient, settings)
    if known is None:
        return []
    kind = domain.MESSAGES[known.pop("message", kind.name)]
    ctx = FIELDS[kind.name](data, known)
    if kind.topic and _told(session, kind.topic, ctx["ref_id"], producer_id):
        return []
    return queue_message(session, emit, envelope, kind, recipient, ctx, settings, adapters)


def _told(session: Session, topic: str, ref_id: str, producer_id: str) -> bool:
    """A message of this topic about this subject was queued for the producer already."""
    names = [m.name for m in domain.MESSAGES.values() if m.topic == topic]
    return session.scalar(select(Delivery.id).where(Delivery.ref_id == ref_id, Delivery.producer_id == producer_id,
                                                    Delivery.template.in_(names)).limit(1)) is not None


def queue_message(session: Session, emit, envelope: dict, kind: domain.MessageKind, recipient: Recipient,
                  ctx: dict, settings, adapters: dict) -> list[Delivery]:
    """One delivery row per usable channel; none usable: one "undeliverable" row (channel "none")
    and a notifications.producer.unreachable event for the trade officers."""
    values, unreachable = message_rows(envelope, kind, recipient, ctx, settings, adapters)
    rows = [Delivery(**v) for v in values]
    session.add_all(rows)
    session.flush()
    if unreachable:
        _unreachable(session, emit, unreachable)
    return rows


def message_rows(envelope: dict, kind: domain.MessageKind, recipient: Recipient, ctx: dict, settings,
                 adapters: dict) -> tuple[list[dict], dict | None]:
    """The delivery rows a message makes (rendered for the usable channels only), and the data of
    notifications.producer.unreachable when no channel is usable."""
    problems = channel_problems(recipient, adapters)
    usable = [c for c, problem in problems.items() if problem is None]
    rendered = rendering.render(kind.name, recipient.language, ctx, sms_link=ctx.get("short_link") or "",
                                sms_mode=settings.sms_mode, sms_max_segments=settings.sms_max_segments,
                                calendar_uid=ctx.get("ref_id") or envelope["id"], email="email" in usable,
                                sms="sms" in usable)
    now = datetime.now(UTC)
    common = {"cause_event_id": envelope["id"], "cause_event_type": envelope["type"], "ref_id": ctx.get("ref_id"),
              "template": kind.name, "producer_id": recipient.producer_id, "language": rendered.language,
              "subject": rendered.subject, "attempts": 0, "created_at": now, "next_attempt_at": now,
              "body_html": None, "attachments": None, "sms_encoding": None, "sms_segments": None, "last_error": None}
    if not usable:
        row = {**common, "id": new_id(), "channel": "none", "body_text": rendered.text, "status": "undeliverable",
               "last_error": "; ".join(f"{c}: {p}" for c, p in problems.items())}
        return [row], {"producer_id": recipient.producer_id, "delivery_id": row["id"], "template": kind.name,
                       "cause_event_id": envelope["id"], "cause_event_type": envelope["type"],
                       "ref_id": ctx.get("ref_id"), "reasons": problems}
    rows = []
    for channel in usable:
        row = {**common, "id": new_id(), "channel": channel, "status": "queued"}
        if channel == "email":
            row.update(body_text=rendered.text, body_html=rendered.html,
                       attachments=[a.as_dict() for a in rendered.attachments] or None)
        else:
            row.update(body_text=rendered.sms.text, sms_encoding=rendered.sms.encoding,
                       sms_segments=rendered.sms.segments)
        rows.append(row)
    return rows, None


def _unreachable(session: Session, emit, data: dict) -> None:
    emit(session, "notifications.producer.unreachable", data["producer_id"], 1, data)
    log.info("producer unreachable", extra={"producer_id": data["producer_id"], "delivery_id": data["delivery_id"]})


# ---- many invitations at once ----------------------------------------------------------------------
@contextmanager
def caused_by(envelope: dict):
    """Events emitted meanwhile carry this envelope's correlation id and it as their cause (the
    consumer sets them per message, but not inside a handler given a whole batch)."""
    tokens = (context.correlation_id.set(envelope["correlation_id"]), context.causation_id.set(envelope["id"]))
    try:
        yield
    finally:
        context.correlation_id.reset(tokens[0])
        context.causation_id.reset(tokens[1])


OFFERS = tuple(m.name for m in domain.MESSAGES.values() if m.topic == "offer")


def react_many(session: Session, emit, batch: list[tuple[dict, dict]], settings, adapters: dict) -> None:
    """A consumer batch in one transaction. Invitations (a fair's publication sends hundreds) take
    a few queries for the whole batch instead of several each, with the same outcome as ``react``
    one by one; any other event goes through ``react``."""
    offers = [(e, d) for e, d in batch if e["type"] == "events.invitation.issued"]
    for envelope, data in batch:
        if envelope["type"] != "events.invitation.issued":
            with caused_by(envelope):
                react(session, emit, envelope, data, settings, adapters)
    if offers:
        _offers(session, emit, offers, settings, adapters)


def _offers(session: Session, emit, offers: list[tuple[dict, dict]], settings, adapters: dict) -> None:
    invitation_ids = [d["invitation_id"] for _, d in offers]
    producers = {d["producer_id"] for _, d in offers}
    conn = session.connection()  # Core and rows: these are read, never changed, here
    recipients = {r.producer_id: r for r in conn.execute(select(*Recipient.__table__.c).where(
        among(conn, Recipient.producer_id, producers)))}
    if producers - set(recipients):
        raise RecipientUnknown(f"no recipient record for {len(producers - set(recipients))} producers yet")
    # one read of the deliveries for both: this event handled already, this invitation offered already
    causes = [e["id"] for e, _ in offers]
    done, told = set(), set()
    for cause, ref, pid, template in conn.execute(
            select(Delivery.cause_event_id, Delivery.ref_id, Delivery.producer_id, Delivery.template).where(
                or_(among(conn, Delivery.cause_event_id, causes), among(conn, Delivery.ref_id, invitation_ids)))):
        done.add(cause)
        if template in OFFERS:
            told.add((ref, pid))
    promotions = {p.invitation_id: p for p in conn.execute(select(*Promotion.__table__.c).where(
        among(conn, Promotion.invitation_id, invitation_ids)))}
    shorts = dict(conn.execute(select(ShortLink.invitation_id, ShortLink.code).where(
        among(conn, ShortLink.invitation_id, invitation_ids))).all())
    rows, new_shorts, unreachable, base = [], [], [], settings.public_base_url
    for envelope, data in offers:
        inv, pid = data["invitation_id"], data["producer_id"]
        if envelope["id"] in done or (inv, pid) in told:
            continue
        told.add((inv, pid))  # the same invitation twice in one batch: one offer
        token = links.make_token(settings.secret_key, inv, pid, aware(_dt(data["deadline"])))
        if inv not in shorts:
            shorts[inv] = secrets.token_urlsafe(9)
            new_shorts.append({"code": shorts[inv], "token": token, "invitation_id": inv})
        promotion = promotions.get(inv)
        known = {"recipient_name": recipients[pid].name, "link": f"{base}/r/{token}",
                 "short_link": f"{base}/r/s/{shorts[inv]}",
                 "promotion": {"cause": promotion.cause, "rank": promotion.rank} if promotion else None}
        kind = domain.MESSAGES["promotion" if promotion else "invitation"]
        values, gone = message_rows(envelope, kind, recipients[pid], FIELDS[kind.name](data, known), settings,
                                    adapters)
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
            _unreachable(session, emit, data)
    _record_offers(session, offers)


def _record_offers(session: Session, offers: list[tuple[dict, dict]]) -> None:
    """``record_issued`` for a batch: new views in one INSERT, the (rare) known ones one by one."""
    conn = session.connection()
    known = set(conn.scalars(select(InvitationView.invitation_id).where(
        among(conn, InvitationView.invitation_id, [d["invitation_id"] for _, d in offers]))))
    fresh, seen = [], set()
    for envelope, data in offers:
        inv = data["invitation_id"]
        if inv in seen:  # announced twice in this batch: recorded once
            continue
        if inv in known:
            record_issued(session, envelope, data)
            continue
        seen.add(inv)
        fresh.append({"invitation_id": inv, "producer_id": data["producer_id"], "fair_id": data["fair"]["fair_id"],
                      "fair": _jsonable(data["fair"]), "fair_version": 0, "products": data["products"],
                      "deadline": _dt(data["deadline"]), "issued_at": _dt(envelope["occurred_at"]),
                      "status": "issued"})
    if fresh:
        session.connection().execute(insert(InvitationView.__table__), fresh)


def _jsonable(d: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}


# ---- reminders before an invitation's deadline ------------------------------------------------------
REMINDER_NAMESPACE = uuid.UUID("6b8f2d4e-3c1a-5e7b-9d0f-2a4c6e8b0d13")
REMINDER_TYPE = "notifications.reminder"  # the cause of a reminder's deliveries (no event: the clock)


def reminder_offsets(settings) -> tuple[int, ...]:
    """Days before the deadline (``OCOP_REMINDER_DAYS``, default 3 and 1)."""
    if "reminder_days" in settings.extra:
        return tuple(settings.extra["reminder_days"])
    return domain.parse_offsets(os.environ.get("OCOP_REMINDER_DAYS"))


def reminder_id(invitation_id: str, days: int) -> str:
    """The same for every worker and every run: the deliveries' unique (cause, channel, producer)
    makes each reminder once, even when two workers queue it at the same moment."""
    return str(uuid.uuid5(REMINDER_NAMESPACE, f"{invitation_id}:{days}"))


def _unanswered(session: Session, now: datetime, within_days: int) -> list[InvitationView]:
    """Open invitations, not answered through their link, whose deadline is near."""
    q = (select(InvitationView).outerjoin(Answer, Answer.invitation_id == InvitationView.invitation_id)
         .where(InvitationView.status == "issued", Answer.invitation_id.is_(None), InvitationView.deadline > now,
                InvitationView.deadline <= now + timedelta(days=within_days))
         .order_by(InvitationView.deadline, InvitationView.invitation_id))
    return list(session.scalars(q))


def queue_reminders(session: Session, emit, settings, adapters: dict, now: datetime | None = None,
                    offsets: tuple[int, ...] | None = None) -> int:
    """Queue the reminders due now (domain.reminder_due) for unanswered invitations; returns how
    many were queued. Idempotent: a reminder queued once (by any worker) is not queued again."""
    now = now or datetime.now(UTC)
    offsets = reminder_offsets(settings) if offsets is None else offsets
    if not offsets:
        return 0
    due = []
    for view in _unanswered(session, now, max(offsets)):
        days = domain.reminder_due(aware(view.deadline), aware(view.issued_at) if view.issued_at else None, now,
                                   offsets)
        if days is not None:
            due.append((view, days, reminder_id(view.invitation_id, days)))
    queued_before = set(session.scalars(select(Delivery.cause_event_id).where(
        among(session, Delivery.cause_event_id, [cause for *_, cause in due]))))
    count = 0
    for view, days, cause in due:
        if cause not in queued_before and _queue_reminder(session, emit, settings, adapters, view, days, cause):
            count += 1
    return count


def _queue_reminder(session: Session, emit, settings, adapters: dict, view: InvitationView, days: int,
                    cause: str) -> bool:
    recipient = session.get(Recipient, view.producer_id)
    if recipient is None:
        return False
    data = {"invitation_id": view.invitation_id, "fair": view.fair, "products": view.products,
            "deadline": aware(view.deadline)}
    envelope = {"id": cause, "type": REMINDER_TYPE}
    try:
        with session.begin_nested():
            known = {"recipient_name": recipient.name, "days_left": days,
                     **_links(session, settings, view.invitation_id, view.producer_id, view.deadline)}
            queue_message(session, emit, envelope, domain.MESSAGES["reminder"], recipient,
                          FIELDS["reminder"](data, known), settings, adapters)
    except IntegrityError:  # another worker queued it at the same moment
        return False
    return True


def _still_open(session: Session, delivery: Delivery) -> str | None:
    """Why a reminder is no longer true when its turn comes (None: send it)."""
    view = session.get(InvitationView, delivery.ref_id)
    if view is None or view.status != "issued":
        return f"the invitation is {view.status if view else 'unknown'}"
    if session.get(Answer, delivery.ref_id) is not None:
        return "the producer has answered"
    if aware(view.deadline) <= datetime.now(UTC):
        return "the deadline has passed"
    return None


# template -> why a queued message should no longer go out (None: it should)
STILL_TRUE = {"reminder": _still_open}


# ---- what events change in this service's records ---------------------------------------------------
def record_issued(session: Session, envelope: dict, data: dict) -> None:
    view = session.get(InvitationView, data["invitation_id"], with_for_update=True)
    if view is None:
        view = InvitationView(invitation_id=data["invitation_id"], producer_id=data["producer_id"], status="issued",
                              fair_version=0)
        session.add(view)
    elif view.status != "issued":
        return  # answered, withdrawn or expired already (events seen out of order): keep that
    view.fair_id, view.fair, view.products = data["fair"]["fair_id"], _jsonable(data["fair"]), data["products"]
    view.deadline, view.issued_at = _dt(data["deadline"]), envelope["occurred_at"]
    session.flush()


def record_promotion(session: Session, envelope: dict, data: dict) -> None:
    if session.get(Promotion, data["invitation_id"]) is None:
        session.add(Promotion(invitation_id=data["invitation_id"], producer_id=data["producer_id"],
                              fair_id=data["fair_id"], cause=data["cause"], rank=data["rank"],
                              promoted_at=envelope["occurred_at"]))
        session.flush()


def record_verdict(session: Session, envelope: dict, data: dict) -> None:
    """accepted / declined / answer_refused (an answer it could not apply), withdrawn, expired."""
    view = session.get(InvitationView, data["invitation_id"], with_for_update=True)
    if view is None:
        return
    kind = envelope["type"].rsplit(".", 1)[-1]
    if kind == "answer_refused":
        if view.status == "issued":  # "already accepted" must not undo the acceptance
            view.status, view.verdict = "refused", data.get("reason")
    elif kind == "withdrawn":
        view.status, view.verdict = "withdrawn", data["reason"][:500]
        view.withdrawn_cause = domain.withdrawal_of(data)[0]
    elif kind == "expired":
        if view.status == "issued":
            view.status = "expired"
    else:
        view.status = kind
        view.booth = data.get("booth")
        view.booths = data.get("booths") or ([view.booth] if view.booth else None)
    session.flush()


def record_fair(session: Session, envelope: dict, data: dict) -> None:
    """A fair's new state into the invitations of it (the answer page and later messages show it);
    a cancelled fair's open invitations are withdrawn by it."""
    views = session.scalars(select(InvitationView).where(InvitationView.fair_id == data["fair_id"],
                                                         InvitationView.fair_version < envelope["subject_version"])
                            .with_for_update())
    for view in views:
        view.fair = {**view.fair, **_jsonable(fields.fair_summary(data))}
        view.fair_version = envelope["subject_version"]
        if envelope["type"] == "events.fair.cancelled" and view.status in domain.OPEN_STATUSES:
            view.status, view.withdrawn_cause = "withdrawn", "fair_cancelled"
            view.verdict = (data.get("reason") or "")[:500] or None
    session.flush()


RECORDS = {"events.invitation.issued": record_issued, "events.waitlist.promoted": record_promotion,
           "events.invitation.accepted": record_verdict, "events.invitation.declined": record_verdict,
           "events.invitation.answer_refused": record_verdict, "events.invitation.withdrawn": record_verdict,
           "events.invitation.expired": record_verdict, "events.fair.updated": record_fair,
           "events.fair.cancelled": record_fair}


def get_view(session: Session, invitation_id: str) -> InvitationView:
    view = session.get(InvitationView, invitation_id)
    if view is None:
        raise NotFound("no such invitation", field="invitation_id")
    return view


def record_answer(session: Session, emit, claims: dict, answer: str, note: str | None) -> Answer:
    """Once per invitation: a second use of the link is a Conflict."""
    row = Answer(invitation_id=claims["inv"], producer_id=claims["prod"], answer=answer, note=note,
                 answered_at=datetime.now(UTC))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("this invitation has already been answered", field="invitation_id") from exc
    emit(session, "notifications.invitation.answered", row.invitation_id, 1,
         {"invitation_id": row.invitation_id, "producer_id": row.producer_id, "answer": answer, "note": note,
          "answered_at": row.answered_at})
    return row


# ---- sending --------------------------------------------------------------------------------------
# A sender claims a batch of deliveries ("sending", committed), then for each message: commits
# "handed" (handed_at) just before handing it to the provider, and its outcome as soon as the
# provider answered, in the same transaction as the next message's "handed" (one commit a
# message). A sender killed in between leaves deliveries "sending": once the claim runs out (or at
# once, for the only sender of its database, at start) those never handed are simply sent, and the
# one handed (at most one per sender) is in doubt: it is looked for at the provider where that can
# be asked (the embedded sinks) and otherwise sent again under the same Message-ID /
# Idempotency-Key: at least once, the repeat recognisable and said in the delivery log.
INTERRUPTED = ("its sender stopped after handing it to the provider and before recording the answer: sent again "
               "under the same Message-ID / Idempotency-Key (a duplicate is possible)")
FOUND = ("its sender stopped after handing it to the provider and before recording the answer: found at the "
         "provider, not sent again")


@dataclass
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
    recipient: SimpleNamespace  # name, email, phone
    claimed_until: datetime
    in_doubt: bool
    producer_id: str = ""
    cause_event_id: str = ""
    attempts: int = 0  # before this attempt


@dataclass
class Sent:
    ref: str | None
    found: bool = False  # in doubt, and found at the provider: not sent again


_D = Delivery.__table__
_CLAIMED = (_D.c.id, _D.c.channel, _D.c.template, _D.c.language, _D.c.subject, _D.c.body_text, _D.c.body_html,
            _D.c.attachments, _D.c.sms_encoding, _D.c.sms_segments, _D.c.status, _D.c.handed_at, _D.c.attempts,
            _D.c.producer_id, _D.c.cause_event_id, _D.c.ref_id, _D.c.next_attempt_at)


def claim(session: Session, channel: str, limit: int, lease_seconds: float, adapters: dict,
          now: datetime | None = None, orphaned_before: datetime | None = None) -> tuple[list[Job], int]:
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
            log.warning("delivery in doubt after an interrupted attempt", extra={"delivery_id": d.id,
                                                                                "channel": d.channel})
        jobs.append(Job(d.id, d.channel, d.template, d.language, d.subject, d.body_text, d.body_html, d.attachments,
                        d.sms_encoding, d.sms_segments,
                        SimpleNamespace(name=recipient.name, email=recipient.email, phone=recipient.phone),
                        until, in_doubt, d.producer_id, d.cause_event_id, d.attempts + (1 if in_doubt else 0)))
    if jobs:
        conn.execute(_D.update().where(among(conn, _D.c.id, [j.id for j in jobs]))
                     .values(status="sending", claimed_until=until, handed_at=None))
        doubted = [j.id for j in jobs if j.in_doubt]
        if doubted:
            conn.execute(_D.update().where(_D.c.id.in_(doubted)).values(attempts=_D.c.attempts + 1))
        hand(conn, jobs[0])
    return jobs, settled


_R = Recipient.__table__
_RECIPIENT = tuple(c.label(f"r_{c.key}") for c in _R.c)


def _recipient_of(row) -> SimpleNamespace | None:
    """The recipient columns of a due row (None: no recipient record)."""
    if row.r_producer_id is None:
        return None
    return SimpleNamespace(**{c.key: getattr(row, f"r_{c.key}") for c in _R.c})


def _due_statement():
    arms = []
    for status, extra in (("sending", _D.c.claimed_until <= bindparam("due_doubt")),
                          ("failed", _D.c.next_attempt_at <= bindparam("due_now")),
                          ("queued", _D.c.next_attempt_at <= bindparam("due_now"))):
        arms.append(select(*_CLAIMED, *_RECIPIENT).select_from(_D.outerjoin(_R, _R.c.producer_id == _D.c.producer_id))
                    .where(_D.c.channel == bindparam("due_channel"), _D.c.status == status, extra)
                    .order_by(_D.c.next_attempt_at).limit(bindparam("due_limit"))
                    .with_for_update(skip_locked=True, of=_D).cte(f"due_{status}"))
    return union_all(*(select(arm) for arm in arms))


_DUE = _due_statement()  # built once: building it cost more than running it


def _due(conn, channel: str, limit: int, now: datetime, orphaned_before: datetime | None) -> list:
    """The due deliveries of a channel with their recipients, locked, the longest waiting first:
    one range of the (channel, status, next_attempt_at) index per status, each read no further
    than ``limit`` rows, in one statement (one locking CTE per status: PostgreSQL allows no FOR
    UPDATE in a UNION's arms). One query with an OR over the statuses read and sorted the whole
    backlog at every claim: 10 ms a batch with 10,000 messages waiting."""
    rows = conn.execute(_DUE, {"due_channel": channel, "due_limit": limit, "due_now": now,
                               "due_doubt": max(now, orphaned_before or now)}).all()
    # rows locked beyond the limit are released when the claim commits, still due
    return sorted(rows, key=lambda r: (r.status != "sending", r.next_attempt_at))[:limit]


# Every message runs these, so they are built once (Core, on the table: no ORM unit of work).
_HAND = (_D.update().where(_D.c.id == bindparam("d_id"), _D.c.claimed_until == bindparam("d_claim"))
         .values(handed_at=bindparam("d_now")))
_SENT = (_D.update().where(_D.c.id == bindparam("d_id"), _D.c.status == "sending",
                           _D.c.claimed_until == bindparam("d_claim"))
         .values(status="sent", sent_at=bindparam("d_now"), provider_ref=bindparam("d_ref"), claimed_until=None,
                 handed_at=None, attempts=_D.c.attempts + bindparam("d_inc"), last_error=bindparam("d_note"))
         .returning(_D.c.attempts, _D.c.template, _D.c.producer_id, _D.c.cause_event_id))


def renew_claims(conn, driver, jobs: list[Job], lease_seconds: float, now: datetime | None = None) -> list[Job]:
    """The claim on a batch's remaining ``jobs`` (all claimed together: one ``claimed_until``)
    extended by ``lease_seconds`` from now; returns the jobs still claimed, with their new
    ``claimed_until`` (a job whose claim ran out and was taken by another sender is dropped: that
    sender sends it). ``driver``: the PostgreSQL driver connection in autocommit, else None (then
    ``conn``, in a transaction of its own)."""
    if not jobs:
        return []
    old, until = jobs[0].claimed_until, (now or datetime.now(UTC)) + timedelta(seconds=lease_seconds)
    ids = [j.id for j in jobs]
    if driver is not None:
        kept = {row[0] for row in driver.execute(
            "UPDATE deliveries SET claimed_until = %s WHERE id = ANY(%s) AND status = 'sending' "
            "AND claimed_until = %s RETURNING id", (until, ids, old))}
    else:
        with conn.begin():
            kept = set(conn.scalars(_D.update().where(_D.c.id.in_(ids), _D.c.status == "sending",
                                                      _D.c.claimed_until == old)
                                    .values(claimed_until=until).returning(_D.c.id)))
    if len(kept) < len(jobs):
        log.warning("claims lost before renewal", extra={"lost": len(jobs) - len(kept)})
    for job in jobs:
        job.claimed_until = until
    return [j for j in jobs if j.id in kept]


def hand(conn, job: Job) -> None:
    """Record that the job's message goes to the provider now (committed with the claim or with the
    previous message's outcome, before the message leaves)."""
    conn.execute(_HAND, {"d_id": job.id, "d_claim": job.claimed_until, "d_now": datetime.now(UTC)})


def record_outcome(session: Session, emit, job: Job, outcome: Sent | ChannelError, settings,
                   next_job: Job | None = None) -> str | None:
    """The provider's answer to one attempt (and ``next_job`` handed, in the same transaction). Sent:
    status sent and notifications.delivery.sent. Failed: a retry after a backoff, or parked (attempts
    used up, or refused for good) with notifications.delivery.failed. Returns the new status (None:
    the claim was lost, e.g. it ran out and another sender took the delivery and records its own)."""
    if next_job is not None:
        hand(session.connection(), next_job)
    mine = and_(Delivery.id == job.id, Delivery.status == "sending", Delivery.claimed_until == job.claimed_until)
    if isinstance(outcome, ChannelError):
        delivery = session.scalars(select(Delivery).where(mine).with_for_update()).first()
        if delivery is None:
            log.warning("claim lost before the outcome was recorded", extra={"delivery_id": job.id})
            return None
        delivery.claimed_until = delivery.handed_at = None
        delivery.attempts += 1
        _failed(session, emit, delivery, outcome, settings)
        return delivery.status
    row = _mark_sent(session.connection(), job, outcome)
    if row is None:
        return None
    emit(session, "notifications.delivery.sent", job.id, row.attempts, _sent_data(job, row))
    # Not worth waking the relay for one message each: it takes them in batches at its next poll.
    session.info.pop("has_outbox", None)
    return "sent"


def record_sent(conn, emit, job: Job, outcome: Sent, next_job: Job | None = None) -> str | None:
    """``record_outcome`` of a sent message on a plain connection (in its transaction): the path
    every message takes, kept short: one statement on PostgreSQL, three elsewhere; the sender's
    connection is held for its batch (a session per message would take a connection from the
    pool, and ping it, each time). Only when no webhook follows notifications.delivery.sent
    (``emit.follows``), else use ``record_outcome``."""
    if conn.dialect.name == "postgresql":
        return record_sent_pg(conn.connection.driver_connection, emit, job, outcome, next_job)
    if next_job is not None:
        conn.execute(_HAND, {"d_id": next_job.id, "d_claim": next_job.claimed_until, "d_now": datetime.now(UTC)})
    row = _mark_sent(conn, job, outcome)
    if row is None:
        return None
    emit.outbox_row(conn, "notifications.delivery.sent", job.id, row.attempts, _sent_data(job, row))
    return "sent"


def record_sent_pg(driver, emit, job: Job, outcome: Sent, next_job: Job | None) -> str | None:
    """The next message handed, this one sent, and its notifications.delivery.sent in the outbox
    only if the claim still held: one statement (data-modifying CTEs run once, read or not), on
    the driver's (psycopg) connection, in its transaction or, in autocommit, as its own."""
    attempts = job.attempts + (0 if outcome.found else 1)
    data = {"delivery_id": job.id, "channel": job.channel, "template": job.template, "producer_id": job.producer_id,
            "cause_event_id": job.cause_event_id}
    row = emit.outbox_values("notifications.delivery.sent", job.id, attempts, data)
    # straight to the driver (half the CPU of going through SQLAlchemy's text(), on the hottest path)
    cursor = driver.cursor()
    cursor.execute(_sent_pg(emit.emit.model.__table__.name), {
        "now": datetime.now(UTC), "next_id": next_job.id if next_job else None,
        "next_claim": next_job.claimed_until if next_job else None, "ref": outcome.ref,
        "inc": 0 if outcome.found else 1, "note": (FOUND if outcome.found else INTERRUPTED) if job.in_doubt else None,
        "id": job.id, "claim": job.claimed_until, "o_id": row["id"], "o_exchange": row["exchange"],
        "o_key": row["routing_key"], "o_type": row["type"], "o_correlation": row["correlation_id"],
        "o_payload": row["payload"]})
    done = cursor.fetchone()
    if done is None:
        log.warning("claim lost before the outcome was recorded", extra={"delivery_id": job.id})
        return None
    return "sent"


@cache
def _sent_pg(outbox: str) -> str:
    return f"""
        WITH handed AS (UPDATE deliveries SET handed_at = %(now)s
                        WHERE id = %(next_id)s AND claimed_until = %(next_claim)s),
             sent AS (UPDATE deliveries SET status = 'sent', sent_at = %(now)s, provider_ref = %(ref)s,
                                            claimed_until = NULL, handed_at = NULL, attempts = attempts + %(inc)s,
                                            last_error = %(note)s
                      WHERE id = %(id)s AND status = 'sending' AND claimed_until = %(claim)s RETURNING id)
        INSERT INTO {outbox} (id, exchange, routing_key, type, correlation_id, payload, created_at, sent_at)
        SELECT %(o_id)s, %(o_exchange)s, %(o_key)s, %(o_type)s, %(o_correlation)s, %(o_payload)s, %(now)s, NULL
        FROM sent RETURNING id"""


def _mark_sent(conn, job: Job, outcome: Sent):
    row = conn.execute(_SENT, {"d_id": job.id, "d_claim": job.claimed_until, "d_now": datetime.now(UTC),
                               "d_ref": outcome.ref, "d_inc": 0 if outcome.found else 1,
                               "d_note": (FOUND if outcome.found else INTERRUPTED) if job.in_doubt else None}).first()
    if row is None:
        log.warning("claim lost before the outcome was recorded", extra={"delivery_id": job.id})
    return row


def _sent_data(job: Job, row) -> dict:
    return {"delivery_id": job.id, "channel": job.channel, "template": row.template, "producer_id": row.producer_id,
            "cause_event_id": row.cause_event_id}


def _failed(session: Session, emit, delivery, exc: ChannelError, settings) -> None:
    delivery.last_error = str(exc)[:1000]
    limit = settings.channel_attempts.get(delivery.channel, 5)
    if exc.permanent or delivery.attempts >= limit:
        delivery.status = "parked"
        log.error("delivery parked", extra={"delivery_id": delivery.id, "channel": delivery.channel,
                                            "attempts": delivery.attempts, "permanent": exc.permanent})
        emit(session, "notifications.delivery.failed", delivery.id, delivery.attempts,
             {"delivery_id": delivery.id, "channel": delivery.channel, "template": delivery.template,
              "producer_id": delivery.producer_id, "cause_event_id": delivery.cause_event_id,
              "attempts": delivery.attempts, "error": delivery.last_error})
    else:
        delivery.status = "failed"
        wait = domain.backoff_seconds(delivery.attempts, settings.retry_base_seconds, settings.retry_max_seconds)
        delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=max(wait, exc.retry_after or 0))
        log.warning("delivery failed; will retry", extra={"delivery_id": delivery.id, "channel": delivery.channel,
                                                          "attempt": delivery.attempts})
    session.flush()


def redrive(session: Session, delivery_id: str) -> Delivery:
    """A parked delivery goes back to the queue (attempts count again from zero)."""
    row = session.get(Delivery, delivery_id, with_for_update=True)
    if row is None:
        raise NotFound("no such delivery", field="delivery_id")
    if row.status != "parked":
        raise Conflict(f"only a parked delivery can be re-driven (this one is {row.status})", field="status")
    row.status, row.attempts, row.next_attempt_at = "queued", 0, datetime.now(UTC)
    session.flush()
    return row


# ---- webhooks -------------------------------------------------------------------------------------
def subscribable_types() -> list[str]:
    """Event types a webhook can follow: those this service receives (its queue's bindings) and
    those it publishes itself, except token revocations (the services' own deny list)."""
    from shared.bus.topology import queue_spec
    from shared.contracts import CONTRACTS
    from shared.revocation import EVENT_TYPE as TOKEN_REVOKED

    bindings = queue_spec("notifications.main").bindings
    return sorted({c.type for c in CONTRACTS.values() if c.type != TOKEN_REVOKED and (
                   c.source == "notifications" or any(domain.topic_matches(b, c.type) for b in bindings))})


def _wire(envelope: dict) -> str:
    out = dict(envelope)
    if hasattr(out.get("occurred_at"), "isoformat"):
        out["occurred_at"] = out["occurred_at"].isoformat()
    return json.dumps(out, ensure_ascii=False)


def active_subscriptions(session: Session) -> list[tuple[str, list]]:
    """(id, event types) of the active webhook subscriptions."""
    return list(session.execute(select(WebhookSubscription.id, WebhookSubscription.event_types)
                                .where(WebhookSubscription.active.is_(True))).all())


def fan_out(session: Session, envelope: dict, subscriptions: list | None = None) -> int:
    """One webhook delivery per active subscription following the event's type (once per event).
    ``subscriptions``: ``active_subscriptions`` read already (for many events in a row)."""
    subs = [sid for sid, types in (active_subscriptions(session) if subscriptions is None else subscriptions)
            if envelope["type"] in types]
    if not subs:
        return 0
    payload = _wire(envelope)
    seen = set(session.scalars(select(WebhookDelivery.subscription_id).where(
        WebhookDelivery.event_id == envelope["id"], WebhookDelivery.subscription_id.in_(subs))))
    for sid in subs:
        if sid not in seen:
            session.add(WebhookDelivery(subscription_id=sid, event_id=envelope["id"], event_type=envelope["type"],
                                        payload=payload, status="queued", attempts=0))
    session.flush()
    return len(subs) - len(seen)


def fan_out_many(session: Session, envelopes: list[dict]) -> int:
    subscriptions = active_subscriptions(session)
    return sum(fan_out(session, e, subscriptions) for e in envelopes) if subscriptions else 0


class FanOutEmitter:
    """The runtime's emitter, plus webhook deliveries for this service's own events, in the same
    transaction as the outbox row. ``snapshot()`` makes it use the subscriptions read then until the
    next snapshot (a sender reads them once a batch instead of once a message)."""

    def __init__(self, emit):
        self.emit = emit
        self.subscriptions = None
        self._schemas: dict = {}  # one instance's (a sender's thread's): contract schemas made once
        self._insert = None

    def snapshot(self, session: Session) -> None:
        self.subscriptions = active_subscriptions(session)

    def follows(self, type_: str) -> bool:
        """Whether a webhook (in the snapshot) follows this type; True when there is no snapshot."""
        return self.subscriptions is None or any(type_ in types for _, types in self.subscriptions)

    def __call__(self, session: Session, type_: str, subject: str, subject_version: int, data: dict,
                 version: int = 1) -> dict:
        if not self.follows(type_) and hasattr(self.emit, "model"):
            envelope = self.outbox_row(session.connection(), type_, subject, subject_version, data, version)
            session.info["has_outbox"] = True
            return envelope
        envelope = self.emit(session, type_, subject, subject_version, data, version=version)
        fan_out(session, envelope, self.subscriptions)
        return envelope

    def outbox_row(self, conn, type_: str, subject: str, subject_version: int, data: dict,
                   version: int = 1) -> dict:
        """What the runtime's Emitter does (the envelope checked against its contract, the outbox
        row in this transaction), with the contract's schema made once instead of per event and the
        row inserted without the ORM: a sender emits one event per message. No webhook fan-out."""
        row = self.outbox_values(type_, subject, subject_version, data, version)
        if self._insert is None:
            self._insert = self.emit.model.__table__.insert()
        conn.execute(self._insert, [row])
        return json.loads(row["payload"])

    def outbox_values(self, type_: str, subject: str, subject_version: int, data: dict, version: int = 1) -> dict:
        """The outbox row of an event (its envelope checked against the contract), as the runtime's
        Emitter writes it."""
        from shared.contracts import ContractError, contract_for

        schema = self._schemas.get((type_, version))
        if schema is None:
            schema = self._schemas[(type_, version)] = contract_for(type_, version).schema()
        wire = schema.dump(data)
        errors = schema.validate(wire)
        if errors:
            raise ContractError(f"outgoing {type_} v{version} violates its contract", errors)
        event_id = str(uuid.uuid4())
        envelope = {"id": event_id, "type": type_, "version": version, "occurred_at": datetime.now(UTC).isoformat(),
                    "source": self.emit.service, "subject": str(subject), "subject_version": int(subject_version),
                    "correlation_id": context.correlation_id.get() or event_id,
                    "causation_id": context.causation_id.get(), "data": wire}
        return {"id": event_id, "exchange": self.emit.exchange, "routing_key": type_, "type": type_,
                "correlation_id": envelope["correlation_id"], "payload": json.dumps(envelope, ensure_ascii=False),
                "created_at": datetime.now(UTC), "sent_at": None}


def due_webhook_deliveries(session: Session, limit: int = 1) -> list[WebhookDelivery]:
    q = (select(WebhookDelivery).join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
         .where(WebhookDelivery.status.in_(("queued", "failed")), WebhookDelivery.next_attempt_at <= datetime.now(UTC),
                WebhookSubscription.active.is_(True))
         .order_by(WebhookDelivery.next_attempt_at).limit(limit).with_for_update(skip_locked=True, of=WebhookDelivery))
    return list(session.scalars(q))


def send_webhook(session: Session, delivery: WebhookDelivery, adapter, settings) -> str:
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    delivery.attempts += 1
    try:
        delivery.response_status = adapter.send(delivery, sub)
    except ChannelError as exc:
        delivery.response_status = exc.status
        delivery.last_error = str(exc)[:1000]
        if exc.permanent or delivery.attempts >= settings.channel_attempts.get("webhook", 8):
            delivery.status = "parked"
            log.error("webhook delivery parked", extra={"webhook_delivery_id": delivery.id, "subscription_id": sub.id,
                                                        "attempts": delivery.attempts})
        else:
            delivery.status = "failed"
            wait = domain.backoff_seconds(delivery.attempts, settings.retry_base_seconds, settings.retry_max_seconds)
            delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=max(wait, exc.retry_after or 0))
            log.warning("webhook delivery failed; will retry",
                        extra={"webhook_delivery_id": delivery.id, "attempt": delivery.attempts})
        session.flush()
        return delivery.status
    delivery.status, delivery.sent_at, delivery.last_error = "sent", datetime.now(UTC), None
    session.flush()
    return delivery.status
