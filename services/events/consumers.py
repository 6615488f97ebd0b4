"""Message handlers of the events service, grouped by queue (handler group)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared import revocation
from shared.context import caused_by
from shared.contracts import replayed
from shared.errors import OperationError

from . import invitations, read_model, top_ups
from .models import RevokedToken


def on_certification_granted(emit):
    """The read model row, then a top-up of fairs still inviting with room (not for a replay: a
    registry replay rebuilds the read model, it is not news)."""

    def handle(session, envelope, data):
        read_model.apply_certification(session, envelope, data)
        if not replayed(envelope):
            top_ups.top_up(session, emit, [data["product_id"]])

    def many(session, batch):
        read_model.apply_certifications(session, batch)  # one round trip for the batch
        batch = [(envelope, data) for envelope, data in batch if not replayed(envelope)]
        if not batch:
            return
        fairs = top_ups.fairs_open_to_top_up(session, datetime.now(UTC))
        if not fairs:  # the common case: nothing to top up, one query for the whole batch
            return
        for envelope, data in batch:
            with caused_by(envelope):
                top_ups.top_up(session, emit, [data["product_id"]], fairs=fairs)

    handle.many = many
    return handle


def on_certificate_ended(emit):
    def handle(session, envelope, data):
        invitations.certificate_ended(session, emit, envelope, data)

    return handle


def on_invitation_answered(emit, clock=lambda: datetime.now(UTC)):
    def handle(session, envelope, data):
        # The deadline is judged by when the answer reached us, not by the answered_at it claims
        # (recorded, but never later than its receipt).
        received = clock()
        try:
            with session.begin_nested():
                invitations.answer_invitation(
                    session,
                    emit,
                    data["invitation_id"],
                    data["producer_id"],
                    data["answer"],
                    data.get("note"),
                    min(data["answered_at"], received),
                    received_at=received,
                )
        except OperationError as exc:
            # The producer gets the events service's verdict instead of silence.
            emit(
                session,
                "events.invitation.answer_refused",
                data["invitation_id"],
                0,
                {
                    "invitation_id": data["invitation_id"],
                    "producer_id": data["producer_id"],
                    "answer": data["answer"],
                    "reason": exc.message,
                    "cause": exc.cause or "other",
                },
            )

    return handle


def handlers(runtime) -> dict:
    """queue name -> {event type -> handler} (``runtime``: the service's ServiceRuntime)."""
    emit = runtime.emit
    ended = on_certificate_ended(emit)
    granted = on_certification_granted(emit)
    return {
        # granted, renewed and upgraded carry the same fields: the new current certification
        "events.registry-feed": {
            "registry.certification.granted": granted,
            "registry.certification.renewed": granted,
            "registry.certification.upgraded": granted,
            "registry.certification.revoked": ended,
            "registry.certification.expired": ended,
            "registry.producer.registered": read_model.apply_producer,
            "registry.producer.updated": read_model.apply_producer,
            "registry.product.registered": read_model.apply_product,
            "registry.product.updated": read_model.apply_product,
            revocation.EVENT_TYPE: revocation.handler(RevokedToken),
        },
        "events.responses": {"notifications.invitation.answered": on_invitation_answered(emit)},
    }
