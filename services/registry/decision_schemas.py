"""Request and response schemas of decisions (decision_routes.py). Unknown fields are refused on
input (marshmallow's default), lists are bounded."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.fields import CODE, Line, Paragraphs, bounded_list
from shared.instants import UtcDateTime

from .domain import CRITERIA, DECISION_KINDS, LEVELS, REVOCATION_REASONS
from .schemas import CertificationOut, ScoreParts

MAX_CERTIFICATES = 2000  # products one decision lists (Bến Tre's whole register is 200)


class DecisionCertificateIn(Schema):
    product_id = Line(required=True, max_length=CODE)
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    score_parts = fields.Nested(ScoreParts, allow_none=True)
    stars = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "optional; refused when it disagrees with the score and level"},
    )
    kind = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["new", "recertification", "upgrade"]),
        metadata={
            "description": "default: the decision's (certify: new, recertify: recertification, "
            "upgrade: upgrade); a certify decision may list any"
        },
    )


class DecisionIn(Schema):
    number = Line(required=True, min_length=1, max_length=100, metadata={"description": "e.g. 1358/QĐ-UBND"})
    date = fields.Date(required=True)
    issued_by = Line(required=True, min_length=2, max_length=200, metadata={"description": "issuing authority"})
    level = fields.String(
        load_default="province",
        validate=validate.OneOf(LEVELS),
        metadata={
            "description": "province certifies 3★ and 4★ (a score of 90 or more: 4★, proposed for national "
            "evaluation), national 5★ only; the commune pre-checks and does not certify"
        },
    )
    kind = fields.String(
        load_default="certify",
        validate=validate.OneOf([k for k in DECISION_KINDS if k != "revoke"]),
        metadata={"description": "revocations: POST /decisions/{id}/revoke"},
    )
    criteria_version = Line(
        max_length=40,
        metadata={"description": f"one of {', '.join(CRITERIA)}; default: the version in force on the date"},
    )
    certificates = bounded_list(
        fields.Nested(DecisionCertificateIn), required=True, min_items=1, max_items=MAX_CERTIFICATES
    )


class DecisionRevocationIn(Schema):
    """The revoke decision (its own number, date and authority) and why."""

    number = Line(required=True, min_length=1, max_length=100)
    date = fields.Date(required=True)
    issued_by = Line(required=True, min_length=2, max_length=200)
    level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(LEVELS),
        metadata={"description": "default province"},
    )
    reason_code = fields.String(
        required=True,
        validate=validate.OneOf(list(REVOCATION_REASONS)),
        metadata={"description": ", ".join(REVOCATION_REASONS)},
    )
    reason = Paragraphs(
        load_default=None,
        allow_none=True,
        min_length=3,
        max_length=500,
        metadata={"description": "in words; default: the reason code's"},
    )
    certificate_ids = bounded_list(
        Line(max_length=CODE),
        load_default=None,
        allow_none=True,
        min_items=1,
        max_items=MAX_CERTIFICATES,
        metadata={"description": "only these (default: every current certificate)"},
    )


class DecisionQuery(Schema):
    year = fields.Integer(validate=validate.Range(min=2008, max=2100))
    kind = fields.String(validate=validate.OneOf(DECISION_KINDS))
    level = fields.String(validate=validate.OneOf(LEVELS))
    issued_by = Line(max_length=200, metadata={"description": "a part of the authority's name, ignoring diacritics"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DecisionOut(Schema):
    id = fields.String()
    number = fields.String()
    date = fields.Date(attribute="decision_date")
    issued_by = fields.String()
    level = fields.String()
    kind = fields.String()
    criteria_version = fields.String(allow_none=True)
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    recorded_by = fields.String()
    created_at = UtcDateTime()


class DecisionListItem(DecisionOut):
    certificate_count = fields.Integer(metadata={"description": "certificates it carries (a revoke decision: revoked)"})


class DecisionCertificateOut(CertificationOut):
    product_name = fields.String()


class DecisionDetailOut(DecisionOut):
    certificates = fields.List(
        fields.Nested(DecisionCertificateOut),
        metadata={"description": "the certificates it carries; a revoke decision: those it revoked"},
    )


class DecisionPage(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(DecisionListItem))
