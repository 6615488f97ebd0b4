"""Message handlers of the events service, grouped by queue (handler group)."""

from __future__ import annotations

from shared.errors import OperationError

from . import operations as ops


def on_certification_granted(session, envelope, data):
    ops.apply_certification(session, envelope, data)


on_certification_granted.many = ops.apply_certifications  # the consumer's batch path


def on_invitation_answered(emit):
    def handle(session, envelope, data):
        try:
            with session.begin_nested():
                ops.answer_invitation(session, emit, data["invitation_id"], data["producer_id"], data["answer"],
                                      data.get("note"), data["answered_at"])
        except OperationError as exc:
            # The producer gets the events service's verdict instead of silence.
            emit(session, "events.invitation.answer_refused", data["invitation_id"], 0,
                 {"invitation_id": data["invitation_id"], "producer_id": data["producer_id"],
                  "answer": data["answer"], "reason": exc.message})

    return handle


def handlers(emit) -> dict:
    """queue name -> {event type -> handler}"""
    return {
        "events.registry-feed": {"registry.certification.granted": on_certification_granted,
                                 "registry.certification.revoked": ops.apply_certification_ended,
                                 "registry.certification.expired": ops.apply_certification_ended,
                                 "registry.product.updated": ops.apply_product_updated},
        "events.responses": {"notifications.invitation.answered": on_invitation_answered(emit)},
    }
