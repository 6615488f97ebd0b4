"""Request and response schemas of the notifications service."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.web import Text


class AnswerForm(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(["accept", "decline"]))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class DeliveryOut(Schema):
    id = fields.String()
    cause_event_id = fields.String()
    channel = fields.String()
    template = fields.String()
    producer_id = fields.String()
    language = fields.String()
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryQuery(Schema):
    producer_id = fields.String()
    status = fields.String(validate=validate.OneOf(["queued", "sent", "failed", "undeliverable"]))
