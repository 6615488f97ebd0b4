"""Message handlers of the notifications service (one handler group: notifications.main)."""

from __future__ import annotations

from . import domain
from . import operations as ops
from .channels import producer_channels


def handlers(runtime) -> dict:
    settings, adapters = runtime.settings, producer_channels(runtime.settings)

    def on_reaction(session, envelope, data):
        ops.react(session, runtime.emit, envelope, data, settings, adapters)

    table = {
        "registry.producer.registered": ops.upsert_recipient,
        "registry.producer.updated": ops.upsert_recipient,
        "events.invitation.accepted": ops.apply_verdict,
        "events.invitation.declined": ops.apply_verdict,
        "events.invitation.answer_refused": ops.apply_verdict,
    }
    for event_type in domain.REACTIONS:  # events.invitation.issued -> the invitation, ...
        table[event_type] = on_reaction
    return {"notifications.main": table}
