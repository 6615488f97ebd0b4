"""Request and response schemas of the events service."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate

from shared.contracts.events import PRODUCER_KINDS, REGIONS
from shared.web import Text


class RulesIn(Schema):
    min_stars = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=5))
    groups = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=6)), load_default=list)
    regions = fields.List(fields.String(validate=validate.OneOf(REGIONS)), load_default=list)
    provinces = fields.List(Text(), load_default=list)
    producer_kinds = fields.List(fields.String(validate=validate.OneOf(PRODUCER_KINDS)), load_default=list)
    max_products_per_producer = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=20))


class FairIn(Schema):
    name = Text(required=True, validate=validate.Length(min=3, max=300))
    kind = fields.String(load_default="trade_fair", validate=validate.OneOf(["trade_fair", "exhibition", "showcase"]))
    organiser = Text(required=True, validate=validate.Length(min=2, max=300))
    host_province = Text(required=True, validate=validate.Length(min=2, max=100))
    region = fields.String(required=True, validate=validate.OneOf(REGIONS))
    venue = Text(required=True, validate=validate.Length(min=2, max=300))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2000))
    invitation_deadline = fields.AwareDateTime(required=True)
    # An integer column: 2,147,483,647 đồng is far above any booth subsidy, and beyond it is a 500 on PostgreSQL.
    subsidy_per_booth = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=2_147_483_647))
    rules = fields.Nested(RulesIn, load_default=lambda: RulesIn().load({}))


class UtcDateTime(fields.DateTime):
    """Instants go out in UTC with their offset in both modes (SQLite hands them back naive)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class FairOut(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    organiser = fields.String()
    host_province = fields.String()
    region = fields.String()
    venue = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    capacity = fields.Integer()
    booths_assigned = fields.Integer()
    invitation_deadline = UtcDateTime()
    subsidy_per_booth = fields.Integer()
    rules = fields.Dict()
    status = fields.String()
    version = fields.Integer()


class InvitationOut(Schema):
    id = fields.String()
    fair_id = fields.String()
    producer_id = fields.String()
    products = fields.List(fields.Dict())
    status = fields.String()
    rank = fields.Integer()
    score = fields.Float()
    score_parts = fields.Dict()
    reasons = fields.List(fields.String())
    deadline = UtcDateTime()
    booth = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    answered_at = UtcDateTime(allow_none=True)


class AnswerIn(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(["accept", "decline"]))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class PickOut(Schema):
    producer_id = fields.String()
    score = fields.Float()
    parts = fields.Dict()
    reasons = fields.List(fields.String())
    products = fields.Method("_products")

    def _products(self, pick):
        return [{"product_id": c.product_id, "name": c.product_name, "stars": c.stars} for c in pick.products]


class CertifiedProductOut(Schema):
    product_id = fields.String()
    product_name = fields.String()
    producer_id = fields.String()
    producer_name = fields.String()
    group = fields.Integer()
    province = fields.String()
    region = fields.String()
    stars = fields.Integer()
    valid_until = fields.Date()
    status = fields.String()
    source_version = fields.Integer()
