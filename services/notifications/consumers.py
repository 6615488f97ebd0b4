"""Message handlers of the notifications service (one handler group: notifications.main)."""

from __future__ import annotations

from . import operations as ops


def handlers(settings) -> dict:
    def on_invitation_issued(session, envelope, data):
        ops.queue_invitation(session, envelope, data, settings.secret_key, settings.public_base_url)

    return {
        "notifications.main": {
            "registry.producer.registered": ops.upsert_recipient,
            "registry.producer.updated": ops.upsert_recipient,
            "events.invitation.issued": on_invitation_issued,
            "events.invitation.accepted": ops.apply_verdict,
            "events.invitation.declined": ops.apply_verdict,
            "events.invitation.answer_refused": ops.apply_verdict,
        }
    }
