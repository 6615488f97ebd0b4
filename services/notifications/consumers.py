"""Message handlers of the notifications service (one handler group: notifications.main).

Every event received is also fanned out to the webhook subscriptions that follow its type."""

from __future__ import annotations

from shared import revocation
from shared.context import caused_by

from . import domain
from .channels import producer_channels
from .emitter import FanOutEmitter
from .models import RevokedToken
from .offers import react_many
from .reactions import react
from .recipients import upsert_recipient
from .views import RECORDS
from .webhooks import fan_out, fan_out_many, subscribable_types


def handlers(runtime) -> dict:
    settings, adapters = runtime.settings, producer_channels(runtime.settings)
    emit = FanOutEmitter(runtime.emit)

    def on_reaction(session, envelope, data):
        react(session, emit, envelope, data, settings, adapters)

    def on_reactions(session, batch):  # a batch of one event type, in one transaction
        react_many(session, emit, batch, settings, adapters)

    on_reaction.many = on_reactions

    table = {
        "registry.producer.registered": upsert_recipient,
        "registry.producer.updated": upsert_recipient,
    }
    # events.invitation.issued -> the invitation, ...; events.waitlist.promoted -> recorded, ...
    for event_type in (*domain.REACTIONS, *RECORDS):
        table[event_type] = on_reaction
    for event_type in subscribable_types():
        if not event_type.startswith("notifications."):  # our own are fanned out when emitted
            table[event_type] = _with_fan_out(table.get(event_type))
    table[revocation.EVENT_TYPE] = revocation.handler(RevokedToken)  # the deny list of API tokens
    return {"notifications.main": table}


def _with_fan_out(handler):
    def handle(session, envelope, data):
        if handler is not None:
            handler(session, envelope, data)
        fan_out(session, envelope)

    def handle_many(session, batch):
        many = getattr(handler, "many", None)
        if many is not None:
            many(session, batch)
        elif handler is not None:
            for envelope, data in batch:
                with caused_by(envelope):
                    handler(session, envelope, data)
        fan_out_many(session, [envelope for envelope, _ in batch])

    handle.many = handle_many
    return handle
