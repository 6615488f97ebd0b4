"""Message handlers of the notifications service (one handler group: notifications.main).

Every event received is also fanned out to the webhook subscriptions that follow its type."""

from __future__ import annotations

from shared import revocation

from . import domain
from . import operations as ops
from .channels import producer_channels
from .models import RevokedToken


def handlers(runtime) -> dict:
    settings, adapters = runtime.settings, producer_channels(runtime.settings)
    emit = ops.FanOutEmitter(runtime.emit)

    def on_reaction(session, envelope, data):
        ops.react(session, emit, envelope, data, settings, adapters)

    def on_reactions(session, batch):  # a batch of one event type, in one transaction
        ops.react_many(session, emit, batch, settings, adapters)

    on_reaction.many = on_reactions

    table = {
        "registry.producer.registered": ops.upsert_recipient,
        "registry.producer.updated": ops.upsert_recipient,
    }
    # events.invitation.issued -> the invitation, ...; events.waitlist.promoted -> recorded, ...
    for event_type in (*domain.REACTIONS, *ops.RECORDS):
        table[event_type] = on_reaction
    for event_type in ops.subscribable_types():
        if not event_type.startswith("notifications."):  # our own are fanned out when emitted
            table[event_type] = _with_fan_out(table.get(event_type))
    table[revocation.EVENT_TYPE] = revocation.handler(RevokedToken)  # the deny list of API tokens
    return {"notifications.main": table}


def _with_fan_out(handler):
    def handle(session, envelope, data):
        if handler is not None:
            handler(session, envelope, data)
        ops.fan_out(session, envelope)

    def handle_many(session, batch):
        many = getattr(handler, "many", None)
        if many is not None:
            many(session, batch)
        elif handler is not None:
            for envelope, data in batch:
                with ops.caused_by(envelope):
                    handler(session, envelope, data)
        ops.fan_out_many(session, [envelope for envelope, _ in batch])

    handle.many = handle_many
    return handle
