"""Request and response schemas. Input and output schemas are separate; unknown fields are
refused on input (RAISE, marshmallow's default) so a typo never silently drops data."""

from __future__ import annotations

from marshmallow import Schema, fields, post_load, validate

from shared.contracts.events import LANGS, PRODUCER_KINDS, REGIONS
from shared.fields import ADDRESS, CODE, NAME, TEXT, Email, Line, Paragraphs

from .domain import CRITERIA, LEVELS, REVOCATION_REASONS
from .province_filters import MATCHED, province_filters

# Every group some criteria version knows: checked here with the other fields, and against the
# version in force by the operation.
GROUPS = sorted({g for version in CRITERIA.values() for g in version.groups})
PHONE = validate.Regexp(r"^\+?[0-9 .-]{8,20}\Z", error="not a phone number")


class ConsentIn(Schema):
    email = fields.Boolean(load_default=True)
    sms = fields.Boolean(load_default=False)


class ProducerIn(Schema):
    code = Line(required=True, min_length=2, max_length=40)
    name = Line(required=True, min_length=2, max_length=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(PRODUCER_KINDS))
    address = Line(max_length=ADDRESS)
    province = Line(required=True, min_length=2, max_length=100)
    representative = Line(max_length=200)
    email = Email(allow_none=True)
    phone = Line(allow_none=True, max_length=20, validate=PHONE)
    preferred_language = fields.String(load_default="vi", validate=validate.OneOf(LANGS))
    consent = fields.Nested(ConsentIn, load_default=lambda: {"email": True, "sms": False})


class ConsentPatch(Schema):
    email = fields.Boolean()
    sms = fields.Boolean()


class ProducerPatch(Schema):
    """Partial update: only the fields sent change; the code (business or tax code) does not."""

    name = Line(min_length=2, max_length=NAME)
    kind = fields.String(validate=validate.OneOf(PRODUCER_KINDS))
    address = Line(allow_none=True, max_length=ADDRESS)
    province = Line(min_length=2, max_length=100)
    representative = Line(allow_none=True, max_length=200)
    email = Email(allow_none=True)
    phone = Line(allow_none=True, max_length=20, validate=PHONE)
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
    producer_id = Line(required=True, max_length=CODE)
    name = Line(required=True, min_length=2, max_length=NAME)
    name_en = Line(allow_none=True, max_length=NAME)
    group = fields.Integer(
        required=True,
        strict=True,
        validate=validate.OneOf(GROUPS),
        metadata={"description": "product group (GET /criteria)"},
    )
    subgroup = Line(
        allow_none=True,
        max_length=100,
        metadata={"description": 'sub-group of the group, by code ("1.3") or name; stored as its code'},
    )
    description = Paragraphs(allow_none=True, max_length=TEXT)
    potential_five_star = fields.Boolean(load_default=False)
    provincial_key_product = fields.Boolean(
        load_default=False,
        metadata={
            "description": "designated a provincial key product (sản phẩm chủ lực cấp tỉnh) by the province; a "
            "showcase point (Decision 950/QĐ-BCT) may admit it whatever its stars"
        },
    )


class ProductPatch(Schema):
    """Partial update: only the fields sent change; a product does not move to another producer."""

    name = Line(min_length=2, max_length=NAME)
    name_en = Line(allow_none=True, max_length=NAME)
    group = fields.Integer(
        strict=True, validate=validate.OneOf(GROUPS), metadata={"description": "product group (GET /criteria)"}
    )
    subgroup = Line(
        allow_none=True,
        max_length=100,
        metadata={"description": 'sub-group of the group, by code ("1.3") or name; stored as its code'},
    )
    description = Paragraphs(allow_none=True, max_length=TEXT)
    potential_five_star = fields.Boolean()
    provincial_key_product = fields.Boolean(
        metadata={
            "description": "designated a provincial key product (sản phẩm chủ lực cấp tỉnh) by the province; a "
            "showcase point (Decision 950/QĐ-BCT) may admit it whatever its stars"
        }
    )


class ProductOut(Schema):
    id = fields.String()
    producer_id = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    group = fields.Integer()
    subgroup = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    potential_five_star = fields.Boolean()
    provincial_key_product = fields.Boolean()
    version = fields.Integer()


class ScoreParts(Schema):
    """The parts' maxima depend on the criteria version (148/QĐ-TTg: A 40, B 25, C 35); checked there."""

    a = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    b = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    c = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))


class CertificationIn(Schema):
    product_id = Line(required=True, max_length=CODE)
    kind = fields.String(load_default="new", validate=validate.OneOf(["new", "recertification", "upgrade"]))
    criteria_version = Line(
        max_length=40,
        metadata={
            "description": f"one of {', '.join(CRITERIA)} (GET /criteria); default: the version in force on the "
            "decision date, which a version named here must also have been"
        },
    )
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    score_parts = fields.Nested(ScoreParts, allow_none=True)
    stars = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "optional; refused when it disagrees with the score"},
    )
    issued_by = Line(required=True, min_length=2, max_length=200)
    decision_number = Line(required=True, min_length=1, max_length=100)
    decision_date = fields.Date(required=True)
    level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(LEVELS),
        metadata={
            "description": "the level of the decision: province (3★ and 4★; a score of 90 or more is 4★ and proposes "
            "the product for national evaluation), national (5★ only); the commune does not certify. "
            "Default: the decision's, when it is recorded already, else province"
        },
    )


class CertificationOut(Schema):
    revoked_reason = fields.String(allow_none=True)
    revocation_reason_code = fields.String(allow_none=True, metadata={"description": ", ".join(REVOCATION_REASONS)})
    revocation_decision_id = fields.String(allow_none=True)
    decision_id = fields.String(
        allow_none=True, metadata={"description": "the decision carrying it (GET /decisions/{id})"}
    )
    proposed_for_national_evaluation = fields.Boolean(
        attribute="proposed_for_national",
        metadata={
            "description": "a provincial score of 90 or more: 4★, and the product proposed for national evaluation "
            "(its potential 5★ flag set)"
        },
    )
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
    q = Line(max_length=200, metadata={"description": "search; ignores diacritics and case"})
    province = Line(
        max_length=100,
        metadata={
            "description": 'a current province: all its records, whatever name they were entered under ("Vĩnh Long": '
            "Bến Tre's and Trà Vinh's too); or a pre-2025 name that is not a current one: the records "
            'entered under it ("Trà Vinh"). With or without diacritics or a prefix'
        },
    )
    old_province = Line(
        max_length=100,
        metadata={
            "description": 'a pre-2025 province: only the records entered under that name ("Tây Ninh": those entered '
            "as Tây Ninh, not Long An's)"
        },
    )
    region = fields.String(validate=validate.OneOf(REGIONS))
    group = fields.Integer(validate=validate.OneOf(GROUPS))
    stars = fields.Integer(validate=validate.Range(min=1, max=5))
    producer_kind = fields.String(validate=validate.OneOf(PRODUCER_KINDS))
    producer_id = Line(max_length=CODE)
    certified = fields.Boolean()
    status = fields.String(
        validate=validate.OneOf(["current", "expired", "revoked", "uncertified"]),
        metadata={
            "description": "current: holds a current certification; expired / revoked: holds none and its latest "
            "one ended so; uncertified: never certified"
        },
    )
    potential_five_star = fields.Boolean()
    expiring_before = fields.Date()
    sort = fields.String(
        load_default="name",
        validate=validate.OneOf(
            ["name", "-name", "stars", "-stars", "valid_until", "-valid_until", "created_at", "-created_at"]
        ),
    )
    # A page past the end is empty; a page a database cannot count to (its offset past a 64-bit
    # integer: 9223372036854775807 was a 500) is refused. 1,000,000 pages of 500 is far past any register.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @post_load
    def current_or_old_province(self, data, **_):
        """A current province filters by the current province, a pre-2025 name by the name entered
        (services/registry/queries.py, "province_entered")."""
        return province_filters(data)


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
    matched = fields.List(
        fields.String(validate=validate.OneOf(MATCHED)),
        metadata={
            "description": "in a search (`q`) only: why the row matched, product_name and/or producer_name (the "
            "product-name matches are listed first)"
        },
    )


class ProductPage(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(ProductListItem))


class OldProvinceCount(Schema):
    province = fields.String(required=True, metadata={"description": "the current province"})
    old_province = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "the pre-2025 name the records were entered under; null: entered under the current name"
        },
    )
    label = fields.String(required=True, metadata={"description": 'both names: "Vĩnh Long (Bến Tre cũ)"'})
    label_en = fields.String(required=True, metadata={"description": '"Vĩnh Long (formerly Bến Tre)"'})
    certified_products = fields.Integer(required=True)


class StatisticsOut(Schema):
    certified_products = fields.Integer()
    producers = fields.Integer(metadata={"description": "producers with at least one current certification"})
    potential_five_star = fields.Integer()
    by_stars = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_group = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_province = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_region = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_producer_kind = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_old_province = fields.List(
        fields.Nested(OldProvinceCount),
        metadata={
            "description": "by the province as entered: a pre-2025 name beside its current province (Bến Tre's "
            "records apart from Trà Vinh's), records entered under a current name under it alone"
        },
    )


class RevocationIn(Schema):
    reason = Paragraphs(required=True, min_length=3, max_length=500)
    reason_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(list(REVOCATION_REASONS)),
        metadata={"description": "why, as a code: " + ", ".join(REVOCATION_REASONS)},
    )
    decision_number = Line(required=True, min_length=1, max_length=100)
    decision_date = fields.Date(required=True)
    issued_by = Line(
        min_length=2,
        max_length=200,
        load_default=None,
        allow_none=True,
        metadata={"description": "the revoking authority; default: the certificate's issuer"},
    )
    level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(LEVELS),
        metadata={"description": "of a revoke decision recorded now; default province"},
    )


class ExportQuery(ProductQuery):
    class Meta:
        exclude = ("page", "per_page")


class ProgressQuery(Schema):
    year = fields.Integer(
        validate=validate.Range(min=2008, max=2100),
        metadata={"description": "calendar year of the decisions; default: this year"},
    )


class MeasureOut(Schema):
    measure = fields.String(
        metadata={"description": "new_certifications, recertifications, upgrades, community_tourism"}
    )
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
    bands = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "stars → lowest score of the band"}
    )
    groups = fields.List(fields.Nested(GroupOut))
