"""Request and response schemas. Input and output schemas are separate; unknown fields are
refused on input (RAISE, marshmallow's default) so a typo never silently drops data."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.contracts.events import LANGS, PRODUCER_KINDS, REGIONS
from shared.web import Text

from .domain import CRITERIA

# Every group some criteria version knows: checked here with the other fields, and against the
# version in force by the operation.
GROUPS = sorted({g for version in CRITERIA.values() for g in version.groups})


class ConsentIn(Schema):
    email = fields.Boolean(load_default=True)
    sms = fields.Boolean(load_default=False)


class ProducerIn(Schema):
    code = Text(required=True, validate=validate.Length(min=2, max=40))
    name = Text(required=True, validate=validate.Length(min=2, max=300))
    kind = fields.String(required=True, validate=validate.OneOf(PRODUCER_KINDS))
    address = Text(validate=validate.Length(max=500))
    province = Text(required=True, validate=validate.Length(min=2, max=100))
    representative = Text(validate=validate.Length(max=200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = Text(allow_none=True, validate=validate.Regexp(r"^\+?[0-9 .-]{8,20}\Z", error="not a phone number"))
    preferred_language = fields.String(load_default="vi", validate=validate.OneOf(LANGS))
    consent = fields.Nested(ConsentIn, load_default=lambda: {"email": True, "sms": False})


class ConsentPatch(Schema):
    email = fields.Boolean()
    sms = fields.Boolean()


class ProducerPatch(Schema):
    """Partial update: only the fields sent change; the code (business or tax code) does not."""

    name = Text(validate=validate.Length(min=2, max=300))
    kind = fields.String(validate=validate.OneOf(PRODUCER_KINDS))
    address = Text(allow_none=True, validate=validate.Length(max=500))
    province = Text(validate=validate.Length(min=2, max=100))
    representative = Text(allow_none=True, validate=validate.Length(max=200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = Text(allow_none=True, validate=validate.Regexp(r"^\+?[0-9 .-]{8,20}\Z", error="not a phone number"))
    preferred_language = fields.String(validate=validate.OneOf(LANGS))
    consent = fields.Nested(ConsentPatch)


class ProducerOut(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    address = fields.String(allow_none=True)
    province = fields.String()
    province_entered = fields.String(metadata={"description": "the name as entered; differs for pre-2025 names"})
    region = fields.String()
    representative = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    preferred_language = fields.String()
    consent = fields.Dict()
    version = fields.Integer()


class ProductIn(Schema):
    producer_id = Text(required=True)
    name = Text(required=True, validate=validate.Length(min=2, max=300))
    name_en = Text(allow_none=True, validate=validate.Length(max=300))
    group = fields.Integer(required=True, strict=True, validate=validate.OneOf(GROUPS),
                           metadata={"description": "product group (GET /criteria)"})
    subgroup = Text(allow_none=True, validate=validate.Length(max=100), metadata={
        "description": "sub-group of the group, by code (\"1.3\") or name; stored as its code"})
    description = Text(allow_none=True)
    potential_five_star = fields.Boolean(load_default=False)


class ProductPatch(Schema):
    """Partial update: only the fields sent change; a product does not move to another producer."""

    name = Text(validate=validate.Length(min=2, max=300))
    name_en = Text(allow_none=True, validate=validate.Length(max=300))
    group = fields.Integer(strict=True, validate=validate.OneOf(GROUPS),
                           metadata={"description": "product group (GET /criteria)"})
    subgroup = Text(allow_none=True, validate=validate.Length(max=100), metadata={
        "description": "sub-group of the group, by code (\"1.3\") or name; stored as its code"})
    description = Text(allow_none=True)
    potential_five_star = fields.Boolean()


class ProductOut(Schema):
    id = fields.String()
    producer_id = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    group = fields.Integer()
    subgroup = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    potential_five_star = fields.Boolean()
    version = fields.Integer()


class ScoreParts(Schema):
    """The parts' maxima depend on the criteria version (148/QĐ-TTg: A 40, B 25, C 35); checked there."""

    a = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    b = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    c = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))


class CertificationIn(Schema):
    product_id = Text(required=True)
    kind = fields.String(load_default="new", validate=validate.OneOf(["new", "recertification", "upgrade"]))
    criteria_version = Text(validate=validate.Length(max=40), metadata={
        "description": f"one of {', '.join(CRITERIA)} (GET /criteria); default: the version in force on the "
                       "decision date, which a version named here must also have been"})
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    score_parts = fields.Nested(ScoreParts, allow_none=True)
    stars = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=5),
                           metadata={"description": "optional; refused when it disagrees with the score"})
    issued_by = Text(required=True, validate=validate.Length(min=2, max=200))
    decision_number = Text(required=True, validate=validate.Length(min=1, max=100))
    decision_date = fields.Date(required=True)


class CertificationOut(Schema):
    revoked_reason = fields.String(allow_none=True)
    revocation_decision_number = fields.String(allow_none=True)
    revocation_decision_date = fields.Date(allow_none=True)
    id = fields.String()
    product_id = fields.String()
    kind = fields.String()
    criteria_version = fields.String()
    score = fields.Integer()
    score_parts = fields.Dict(allow_none=True)
    stars = fields.Integer()
    level = fields.String()
    issued_by = fields.String()
    decision_number = fields.String()
    decision_date = fields.Date()
    valid_until = fields.Date()
    status = fields.String()


class ProductQuery(Schema):
    q = Text(validate=validate.Length(max=200), metadata={"description": "search; ignores diacritics and case"})
    province = Text()
    region = fields.String(validate=validate.OneOf(REGIONS))
    group = fields.Integer(validate=validate.OneOf(GROUPS))
    stars = fields.Integer(validate=validate.Range(min=1, max=5))
    producer_kind = fields.String(validate=validate.OneOf(PRODUCER_KINDS))
    producer_id = Text()
    certified = fields.Boolean()
    potential_five_star = fields.Boolean()
    expiring_before = fields.Date()
    sort = fields.String(load_default="name", validate=validate.OneOf(
        ["name", "-name", "stars", "-stars", "valid_until", "-valid_until", "created_at", "-created_at"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ProductListItem(Schema):
    id = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    group = fields.Integer()
    potential_five_star = fields.Boolean()
    producer_id = fields.String()
    producer_name = fields.String()
    producer_kind = fields.String()
    province = fields.String()
    province_entered = fields.String()
    region = fields.String()
    stars = fields.Integer(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    decision_number = fields.String(allow_none=True)
    certification_status = fields.String(allow_none=True)


class ProductPage(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(ProductListItem))


class StatisticsOut(Schema):
    certified_products = fields.Integer()
    producers = fields.Integer(metadata={"description": "producers with at least one current certification"})
    potential_five_star = fields.Integer()
    by_stars = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_group = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_province = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_region = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_producer_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class RevocationIn(Schema):
    reason = Text(required=True, validate=validate.Length(min=3, max=500))
    decision_number = Text(required=True, validate=validate.Length(min=1, max=100))
    decision_date = fields.Date(required=True)


class ExportQuery(ProductQuery):
    class Meta:
        exclude = ("page", "per_page")


class ProgressQuery(Schema):
    year = fields.Integer(validate=validate.Range(min=2008, max=2100),
                          metadata={"description": "calendar year of the decisions; default: this year"})


class MeasureOut(Schema):
    measure = fields.String(metadata={"description": "new_certifications, recertifications, upgrades, "
                                                     "community_tourism"})
    target = fields.Integer()
    achieved = fields.Integer()
    remaining = fields.Integer()
    percent = fields.Float(allow_none=True)


class ProgressOut(Schema):
    year = fields.Integer()
    measures = fields.List(fields.Nested(MeasureOut))


class SubgroupOut(Schema):
    code = fields.String()
    name = fields.String()
    name_en = fields.String()


class GroupOut(Schema):
    code = fields.Integer()
    name = fields.String()
    name_en = fields.String()
    subgroups = fields.List(fields.Nested(SubgroupOut))


class CriteriaOut(Schema):
    code = fields.String()
    title = fields.String()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    in_force = fields.Boolean(metadata={"description": "whether it applies to a decision dated today"})
    parts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "part → maximum"})
    bands = fields.Dict(keys=fields.String(), values=fields.Integer(),
                        metadata={"description": "stars → lowest score of the band"})
    groups = fields.List(fields.Nested(GroupOut))
