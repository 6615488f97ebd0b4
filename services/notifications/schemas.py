"""Request and response schemas of the notifications service."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.fields import CODE, NAME, NOTE, Line, Paragraphs, Url
from shared.instants import UtcDateTime

from .domain import PRODUCER_CHANNELS
from .i18n import LANGUAGES

STATUSES = ["queued", "sending", "sent", "failed", "parked", "undeliverable", "cancelled"]


class AnswerForm(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(["accept", "decline"]))
    note = Paragraphs(load_default=None, allow_none=True, max_length=NOTE)


class DeliveryOut(Schema):
    id = fields.String()
    cause_event_id = fields.String()
    cause_event_type = fields.String(allow_none=True)
    ref_id = fields.String(allow_none=True, metadata={"description": "what the message is about (the invitation)"})
    channel = fields.String(metadata={"description": "email, sms, or none (no usable channel)"})
    template = fields.String()
    producer_id = fields.String()
    language = fields.String()
    subject = fields.String()
    status = fields.String(
        metadata={
            "description": "queued, sending (in the provider's hands), sent, failed (a retry "
            "is due at next_attempt_at), parked (given up; re-drive it), "
            "undeliverable (no usable channel), cancelled (no longer true "
            "when its turn came, e.g. a reminder answered since)"
        }
    )
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    sms_encoding = fields.String(allow_none=True)
    sms_segments = fields.Integer(allow_none=True)
    next_attempt_at = UtcDateTime()
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)


class DeliveryQuery(Schema):
    producer_id = Line(max_length=CODE)
    status = fields.String(validate=validate.OneOf(STATUSES))
    channel = fields.String(validate=validate.OneOf([*PRODUCER_CHANNELS, "none"]))
    ref_id = Line(max_length=CODE)


class ChannelStateOut(Schema):
    contact = fields.String(allow_none=True, metadata={"description": "masked (h***@example.vn, +84*****678)"})
    consent = fields.Boolean(metadata={"description": "recorded by the registry"})
    opted_out = fields.Boolean(metadata={"description": "the producer's own choice, kept by this service"})
    usable = fields.Boolean()
    problem = fields.String(allow_none=True)


class RecipientOut(Schema):
    producer_id = fields.String()
    name = fields.String()
    language = fields.String()
    channels = fields.Dict(keys=fields.String(), values=fields.Nested(ChannelStateOut))


class ChannelChoiceIn(Schema):
    email = fields.Boolean(metadata={"description": "false: no more email; true: email again (with consent)"})
    sms = fields.Boolean(metadata={"description": "false: no more SMS; true: SMS again (with consent)"})

    @validates_schema
    def _something(self, data, **_):
        if not data:
            raise ValidationError("give at least one channel (email, sms)", field_name="email")


class UnreachableMessageOut(Schema):
    delivery_id = fields.String()
    template = fields.String()
    cause_event_id = fields.String()
    ref_id = fields.String(allow_none=True)
    reasons = fields.String(allow_none=True, metadata={"description": "why, per channel, when the message was queued"})
    created_at = UtcDateTime()


class UnreachableOut(Schema):
    producer_id = fields.String()
    name = fields.String(allow_none=True, metadata={"description": "null when the service knows no such recipient"})
    problems = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": "why each channel cannot be used now"},
    )
    messages = fields.List(fields.Nested(UnreachableMessageOut))


class UnreachableQuery(Schema):
    since = fields.AwareDateTime(metadata={"description": "only messages queued at or after this time"})


class PreviewQuery(Schema):
    language = fields.String(load_default="vi", validate=validate.OneOf(LANGUAGES))


class PreviewIn(Schema):
    language = fields.String(load_default="vi", validate=validate.OneOf(LANGUAGES))
    data = fields.Dict(
        load_default=None,
        metadata={
            "description": "the data of the template's event (e.g. events.invitation.issued), validated against its "
            "contract; default: the contract's golden sample"
        },
    )
    recipient_name = Line(load_default="Hợp tác xã Kẹo dừa Thanh Long", min_length=1, max_length=NAME)


class SmsPreviewOut(Schema):
    text = fields.String()
    encoding = fields.String(metadata={"description": "gsm7 or ucs2"})
    segments = fields.Integer()
    units = fields.Integer(metadata={"description": "septets (gsm7) or UTF-16 code units (ucs2)"})


class AttachmentOut(Schema):
    filename = fields.String()
    content_type = fields.String()
    content = fields.String()


class PreviewOut(Schema):
    template = fields.String()
    event_type = fields.String()
    language = fields.String()
    subject = fields.String()
    text = fields.String()
    html = fields.String()
    sms = fields.Nested(SmsPreviewOut)
    attachments = fields.List(fields.Nested(AttachmentOut))


class TemplateOut(Schema):
    name = fields.String()
    event_type = fields.String()
    audience = fields.String()
    calendar = fields.Boolean(metadata={"description": "carries the fair's calendar entry (.ics)"})
    answer_link = fields.Boolean(metadata={"description": "carries the signed answer link"})
    languages = fields.List(fields.String())


# ---- webhooks -------------------------------------------------------------------------------------
WEBHOOK_STATUSES = ["queued", "sent", "failed", "parked"]


class EventTypesOut(Schema):
    event_types = fields.List(fields.String())


class WebhookIn(Schema):
    url = Url(required=True, schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(
        Line(min_length=3, max_length=120),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "see GET /webhooks/event-types"},
    )
    secret = Line(
        min_length=24, max_length=200, metadata={"description": "the HMAC key; default: one is made and returned once"}
    )
    description = Line(allow_none=True, max_length=300)
    active = fields.Boolean(load_default=True)


class WebhookPatch(Schema):
    url = Url(schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(Line(min_length=3, max_length=120), validate=validate.Length(min=1, max=50))
    secret = Line(min_length=24, max_length=200)
    rotate_secret = fields.Boolean(metadata={"description": "true: a new secret is made and returned once"})
    description = Line(allow_none=True, max_length=300)
    active = fields.Boolean()


class WebhookOut(Schema):
    id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    description = fields.String(allow_none=True)
    active = fields.Boolean()
    owner = fields.String(
        metadata={
            "description": "who made it, '<role>:<token sub>': only they and admins see it; "
            "'legacy': made before owners were kept (admins only)"
        }
    )
    created_by = fields.String(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class WebhookSecretOut(WebhookOut):
    secret = fields.String(metadata={"description": "shown when made (creation, rotation) and never again"})


class WebhookDeliveryOut(Schema):
    id = fields.String()
    subscription_id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"description": "queued, sent, failed (a retry is due), parked"})
    attempts = fields.Integer()
    response_status = fields.Integer(allow_none=True, metadata={"description": "the receiver's last HTTP status"})
    last_error = fields.String(
        allow_none=True,
        metadata={
            "description": "why the last attempt failed, in our words ('HTTP 500 Internal Server Error', 'timeout', "
            "'connection refused', 'refused by policy: private address'); never the receiver's answer"
        },
    )
    next_attempt_at = UtcDateTime()
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)


class WebhookDeliveryQuery(Schema):
    status = fields.String(validate=validate.OneOf(WEBHOOK_STATUSES))
