"""Request and response schemas of the events service."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from shared import reference
from shared.contracts.events import FAIR_KINDS, FAIR_STATUSES, INVITATION_STATUSES, PRODUCER_KINDS, REGIONS
from shared.fields import LINE, NAME, NOTE, Email, Line, Paragraphs, bounded_list
from shared.instants import UtcDateTime

from .domain import ORGANISER_KINDS, VENUE_KINDS

GROUPS = validate.Range(min=1, max=6)
PHONE = validate.Regexp(r"^\+?[0-9 .-]{8,20}\Z", error="not a phone number")


class ProvinceName(Line):
    """A province, old (pre-2025) or current, with or without diacritics: loads as its current name."""

    default_max = 100
    default_error_messages = {"unknown": "Unknown province {entered!r}."}

    def _deserialize(self, value, attr, data, **kwargs):
        entered = super()._deserialize(value, attr, data, **kwargs)
        try:
            return reference.resolve_province(entered).name
        except reference.UnknownName:
            raise self.make_error("unknown", entered=entered) from None


class KnownProvince(Line):
    """A province, old or current, checked against the reference data; loads as entered (the
    operation stores the current name and keeps the one entered)."""

    default_max = 100
    default_error_messages = {"unknown": "Unknown province {entered!r}."}

    def _deserialize(self, value, attr, data, **kwargs):
        entered = super()._deserialize(value, attr, data, **kwargs)
        try:
            reference.resolve_province(entered)
        except reference.UnknownName:
            raise self.make_error("unknown", entered=entered) from None
        return entered


class SubgroupCode(Line):
    default_max = 20

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            reference.group_of_subgroup(code)
        except reference.UnknownName as exc:
            raise ValidationError(str(exc)) from None
        return code


def _unique(values):
    if len(set(values)) != len(values):
        raise ValidationError("Lists a value twice.")


class RegionalWeightsIn(Schema):
    host = fields.Float(load_default=6.0, validate=validate.Range(min=0, max=50))
    near = fields.Float(load_default=3.0, validate=validate.Range(min=0, max=50))
    far = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=50))


class RulesIn(Schema):
    """Who a fair admits, and how it ranks them. Lists left empty admit everything."""

    min_stars = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=5))
    admit_uncertified = fields.Boolean(
        load_default=False,
        metadata={"description": 'Also admit products never certified ("potential OCOP", local specialties).'},
    )
    admit_provincial_key = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Also admit products the province designated provincial key products (sản phẩm chủ lực "
            "cấp tỉnh), whatever their stars, unless their certificate was revoked: a showcase point "
            "(Decision 950/QĐ-BCT) admits 3★+ products or provincial key products."
        },
    )
    groups = bounded_list(
        fields.Integer(strict=True, validate=GROUPS), max_items=6, load_default=list, validate=_unique
    )
    subgroups = bounded_list(
        SubgroupCode(),
        max_items=100,
        load_default=list,
        validate=_unique,
        metadata={"description": "Sub-group codes (e.g. 1.3); a group with sub-groups listed admits only those."},
    )
    regions = bounded_list(
        fields.String(validate=validate.OneOf(REGIONS)), max_items=len(REGIONS), load_default=list, validate=_unique
    )
    provinces = bounded_list(
        ProvinceName(),
        max_items=100,
        load_default=list,
        metadata={
            "description": "Source provinces, old names accepted (stored as the current province). A product "
            "from any listed province or any listed region is admitted."
        },
    )
    producer_kinds = bounded_list(
        fields.String(validate=validate.OneOf(PRODUCER_KINDS)),
        max_items=len(PRODUCER_KINDS),
        load_default=list,
        validate=_unique,
    )
    valid_through_end = fields.Boolean(
        load_default=True,
        metadata={"description": "The certificate must be valid through the fair's last day (else its first)."},
    )
    max_products_per_producer = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=20))
    max_booths_per_producer = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=10))
    group_quotas = fields.Dict(
        keys=fields.String(validate=validate.OneOf([str(g) for g in range(1, 7)])),
        values=fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False)),
        load_default=dict,
        metadata={"description": 'Largest share of the booths per group, e.g. {"1": 0.6}.'},
    )
    regional_weights = fields.Nested(RegionalWeightsIn, load_default=lambda: RegionalWeightsIn().load({}))
    overbooking_percent = fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(min=0, max=200),
        metadata={"description": "Invite this much beyond capacity; booths go first come, first served."},
    )
    waitlist_size = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=10000),
        metadata={"description": "Default: twice the capacity, at least 20."},
    )
    top_up = fields.Boolean(
        load_default=True, metadata={"description": "Invite newly certified products while inviting with room."}
    )

    @validates("provinces")
    def _provinces_once(self, value, **_):
        _unique(value)


class FairIn(Schema):
    name = Line(required=True, min_length=3, max_length=NAME)
    kind = fields.String(load_default="trade_fair", validate=validate.OneOf(FAIR_KINDS))
    organiser = Line(required=True, min_length=2, max_length=NAME)
    organiser_kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ORGANISER_KINDS))
    organiser_contact = Line(
        load_default=None,
        allow_none=True,
        min_length=2,
        max_length=LINE,
        metadata={
            "description": "The person producers may ask about the fair (every letter about it gives the contact)."
        },
    )
    organiser_phone = Line(
        load_default=None,
        allow_none=True,
        max_length=20,
        validate=PHONE,
        metadata={"description": "The organiser's phone number for producers' questions."},
    )
    organiser_email = Email(
        load_default=None,
        allow_none=True,
        metadata={"description": "The organiser's email address for producers' questions."},
    )
    host_province = KnownProvince(
        required=True,
        min_length=2,
        metadata={"description": "Current or pre-2025 name; stored as the current province, the name entered kept."},
    )
    region = fields.String(
        required=True,
        validate=validate.OneOf(REGIONS),
        metadata={"description": "The host province's region (provinces.json maps each province to one)."},
    )
    venue = Line(required=True, min_length=2, max_length=NAME)
    venue_kind = Line(
        load_default=None,
        allow_none=True,
        max_length=30,
        validate=validate.OneOf(VENUE_KINDS),
        metadata={
            "description": "What kind of place the venue is, above all a showcase point's (Decision 950/QĐ-BCT)."
        },
    )
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2000))
    invitation_deadline = fields.AwareDateTime(required=True)
    response_days = fields.Integer(
        load_default=14,
        strict=True,
        validate=validate.Range(min=1, max=90),
        metadata={"description": "Days a producer has to answer an invitation (never past the invitation deadline)."},
    )
    # An integer column: 2,147,483,647 đồng is far above any booth subsidy, and beyond it is a 500 on PostgreSQL.
    subsidy_per_booth = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=2_147_483_647))
    budget = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=10**15))
    rules = fields.Nested(RulesIn, load_default=lambda: RulesIn().load({}))


class FairPatch(FairIn):
    """Any field of FairIn; ``rules`` are merged into the fair's rules key by key."""


class FairPublicOut(Schema):
    """What anyone may know of an announced fair: what the public calendar shows. A producer reads
    fairs in this shape (never a draft, its budget, capacity, subsidy or rules)."""

    id = fields.String()
    name = fields.String()
    kind = fields.String()
    organiser = fields.String()
    organiser_contact = fields.String(allow_none=True)
    organiser_phone = fields.String(allow_none=True)
    organiser_email = fields.String(allow_none=True)
    host_province = fields.String()
    region = fields.String()
    venue = fields.String()
    venue_kind = fields.String(allow_none=True)
    starts_on = fields.Date()
    ends_on = fields.Date()
    invitation_deadline = UtcDateTime()
    status = fields.String()
    cancel_reason = fields.String(allow_none=True)


class FairOut(FairPublicOut):
    """A fair as its organisers see it (a producer sees the FairPublicOut fields only)."""

    organiser_kind = fields.String(allow_none=True)
    host_province_entered = fields.String(allow_none=True)
    capacity = fields.Integer()
    booths_assigned = fields.Integer()
    response_days = fields.Integer()
    subsidy_per_booth = fields.Integer()
    budget = fields.Integer(allow_none=True)
    rules = fields.Dict()
    version = fields.Integer()
    clashes = fields.Method(
        "_clashes",
        metadata={"description": "Other open fairs at the same venue on overlapping dates (a warning, not an error)."},
    )

    def _clashes(self, fair):
        return [
            {"fair_id": f.id, "name": f.name, "starts_on": f.starts_on.isoformat(), "ends_on": f.ends_on.isoformat()}
            for f in getattr(fair, "clashes", [])
        ]


class FairListArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(FAIR_STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(FAIR_KINDS))


class PublishArgs(Schema):
    invite = fields.Boolean(
        load_default=True, metadata={"description": "Start inviting at once (the default), or only announce the fair."}
    )


class PreviewArgs(Schema):
    limit = fields.Integer(
        load_default=1000,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "How many producers of the ranking to show, best first."},
    )


class CancelIn(Schema):
    reason = Paragraphs(load_default=None, allow_none=True, max_length=NOTE)


class WithdrawIn(Schema):
    reason = Paragraphs(required=True, min_length=3, max_length=400)


class InvitationListArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(INVITATION_STATUSES))


class InvitationOut(Schema):
    id = fields.String()
    fair_id = fields.String()
    producer_id = fields.String()
    products = fields.List(fields.Dict())
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    rank = fields.Integer()
    score = fields.Float()
    score_parts = fields.Dict()
    reasons = fields.List(fields.String())
    group = fields.Integer(allow_none=True)
    booth_count = fields.Integer()
    deadline = UtcDateTime()
    issued_at = UtcDateTime(allow_none=True)
    booth = fields.Integer(allow_none=True)
    booths = fields.List(fields.Integer(), allow_none=True)
    note = fields.String(allow_none=True)
    answered_at = UtcDateTime(allow_none=True)


class AnswerIn(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(["accept", "decline"]))
    note = Paragraphs(load_default=None, allow_none=True, max_length=NOTE)


class PickOut(Schema):
    """One producer in the ranking: would it be invited, waitlisted, or fall below the cut, and why."""

    rank = fields.Function(lambda d: d.pick.rank)
    outcome = fields.String()
    hold = fields.String(allow_none=True)
    producer_id = fields.Function(lambda d: d.pick.producer_id)
    producer_name = fields.Function(lambda d: d.pick.producer_name)
    region = fields.Function(lambda d: d.pick.region)
    group = fields.Function(lambda d: d.pick.group)
    booths = fields.Function(lambda d: d.pick.booths)
    score = fields.Function(lambda d: d.pick.score)
    parts = fields.Function(lambda d: d.pick.parts)
    reasons = fields.Function(lambda d: d.pick.reasons)
    products = fields.Function(
        lambda d: [{"product_id": c.product_id, "name": c.product_name, "stars": c.stars} for c in d.pick.products]
    )


class FailedRuleOut(Schema):
    rule = fields.String()
    message = fields.String()


class ExplainOut(Schema):
    fair_id = fields.String()
    product_id = fields.String()
    product_name = fields.String()
    producer_id = fields.String()
    outcome = fields.String(
        metadata={
            "description": "chosen, ineligible, other_products_chosen, would_be_invited, "
            "would_be_waitlisted or below_cut"
        }
    )
    message = fields.String()
    failed_rules = fields.List(fields.Nested(FailedRuleOut))
    rank = fields.Integer(allow_none=True)
    score = fields.Float(allow_none=True)
    parts = fields.Dict(allow_none=True)
    cut = fields.Dict(allow_none=True)
    invitation_id = fields.String(allow_none=True)
    invitation_status = fields.String(allow_none=True)


class CertifiedProductOut(Schema):
    product_id = fields.String()
    product_name = fields.String()
    producer_id = fields.String()
    producer_name = fields.String()
    producer_kind = fields.String()
    group = fields.Integer()
    subgroup = fields.String(allow_none=True)
    province = fields.String()
    province_entered = fields.String(
        allow_none=True,
        metadata={"description": "the producer's province as entered, a pre-2025 name where it keeps one"},
    )
    region = fields.String(metadata={"description": "its old province's where province_entered is a pre-2025 one"})
    stars = fields.Integer()
    potential_five_star = fields.Boolean()
    provincial_key_product = fields.Boolean()
    valid_until = fields.Date()
    status = fields.String()
    source_version = fields.Integer()
