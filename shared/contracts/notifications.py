"""Contracts the notifications service publishes: what it delivered and what it could not.
Data only; the envelope is in __init__."""

from __future__ import annotations

from marshmallow import fields, validate

from .registry import contract
from .vocabulary import _Data

CHANNELS = ["email", "sms"]


@contract("notifications.delivery.sent", 1, "notifications", "A message reached a channel (SMTP accepted it).")
class DeliverySentV1(_Data):
    delivery_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["email", "sms", "webhook"]))
    template = fields.String(required=True)
    producer_id = fields.String(required=True)
    cause_event_id = fields.String(required=True)


@contract(
    "notifications.producer.unreachable",
    1,
    "notifications",
    "A message for a producer had no usable channel (no address, no consent, opted out, or the channel is "
    "not configured): nothing was sent; `reasons` says why per channel. For the trade officers.",
)
class ProducerUnreachableV1(_Data):
    producer_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    template = fields.String(required=True)
    cause_event_id = fields.String(required=True)
    cause_event_type = fields.String(required=True)
    ref_id = fields.String(load_default=None, allow_none=True)
    reasons = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)), values=fields.String(allow_none=True), required=True
    )


@contract(
    "notifications.delivery.failed",
    1,
    "notifications",
    "A message could not be delivered on a channel: its retries are used up or it was refused for good; "
    "the delivery is parked (visible in GET /deliveries?status=parked, re-driven by POST "
    "/deliveries/{id}/retry). `error` never names an address.",
)
class DeliveryFailedV1(_Data):
    delivery_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    template = fields.String(required=True)
    producer_id = fields.String(required=True)
    cause_event_id = fields.String(required=True)
    attempts = fields.Integer(required=True, validate=validate.Range(min=1))
    error = fields.String(required=True)
