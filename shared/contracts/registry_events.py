"""Contracts the registry service publishes (and the commands it takes). Data only; the envelope is in __init__."""

from __future__ import annotations

from marshmallow import fields, validate

from .registry import contract
from .vocabulary import LANGS, PRODUCER_KINDS, _Data


class Consent(_Data):
    email = fields.Boolean(required=True)
    sms = fields.Boolean(required=True)


@contract("registry.producer.registered", 1, "registry", "A producer (chủ thể OCOP) was recorded.")
class ProducerRegisteredV1(_Data):
    producer_id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PRODUCER_KINDS))
    province = fields.String(required=True)
    region = fields.String(
        required=True,
        metadata={
            "description": "the region of the province entered: a pre-2025 province's own (Long An: mekong_delta, "
            "though the new Tây Ninh is in the Southeast)"
        },
    )
    # added within v1 (optional: older events lack it)
    province_entered = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the province as entered, a pre-2025 name where the record keeps one (Bến Tre)"},
    )
    email = fields.Email(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    preferred_language = fields.String(load_default="vi", validate=validate.OneOf(LANGS))
    consent = fields.Nested(Consent, required=True)


@contract("registry.producer.updated", 1, "registry", "A producer's details changed; carries the full new state.")
class ProducerUpdatedV1(ProducerRegisteredV1):
    pass


@contract("registry.product.registered", 1, "registry", "A product was recorded for a producer.")
class ProductRegisteredV1(_Data):
    product_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(load_default=None, allow_none=True)
    group = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=6))
    potential_five_star = fields.Boolean(required=True)
    subgroup = fields.String(load_default=None, allow_none=True)  # code under the criteria version, e.g. "1.3"
    provincial_key_product = fields.Boolean(
        load_default=False,
        metadata={  # added within v1
            "description": "designated a provincial key product (sản phẩm chủ lực cấp tỉnh) by the province; "
            "a showcase point (Decision 950/QĐ-BCT) may admit it whatever its stars (absent: not designated)"
        },
    )


@contract("registry.product.updated", 1, "registry", "A product's details changed; carries the full new state.")
class ProductUpdatedV1(ProductRegisteredV1):
    pass


class DecisionRef(_Data):
    """The decision (quyết định) that carries a certificate, or revoked it (added within v1)."""

    decision_id = fields.String(required=True)
    number = fields.String(required=True)
    date = fields.Date(required=True)
    issued_by = fields.String(required=True)
    level = fields.String(required=True, metadata={"description": "commune, district, province or national"})
    kind = fields.String(required=True, metadata={"description": "certify, recertify, upgrade or revoke"})


@contract(
    "registry.certification.granted",
    1,
    "registry",
    "A product was certified OCOP (3★ or more); carries what a fair needs to match it.",
)
class CertificationGrantedV1(_Data):
    certification_id = fields.String(required=True)
    product_id = fields.String(required=True)
    product_name = fields.String(required=True)
    group = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=6))
    producer_id = fields.String(required=True)
    producer_name = fields.String(required=True)
    producer_kind = fields.String(required=True, validate=validate.OneOf(PRODUCER_KINDS))
    province = fields.String(required=True)
    region = fields.String(required=True, metadata={"description": "as on registry.producer.registered"})
    # added within v1 (optional: older events lack it)
    province_entered = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the producer's province as entered, a pre-2025 name where it keeps one"},
    )
    stars = fields.Integer(required=True, strict=True, validate=validate.Range(min=3, max=5))
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(["new", "recertification", "upgrade"]))
    issued_by = fields.String(required=True)
    decision_number = fields.String(required=True)
    decision_date = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    potential_five_star = fields.Boolean(required=True)
    subgroup = fields.String(load_default=None, allow_none=True)
    replaces_certification_id = fields.String(
        load_default=None, allow_none=True, metadata={"description": "the certification this one supersedes"}
    )
    # Added within v1 (issue 11): the decision's level and the decision itself; only the national level
    # certifies 5★, a provincial score of 90+ is 4★ and proposes the product for national evaluation.
    level = fields.String(load_default=None, allow_none=True, metadata={"description": "of the decision"})
    proposed_for_national_evaluation = fields.Boolean(
        load_default=False,
        metadata={
            "description": "4★ by a provincial score of 90 or more: the product is proposed for national evaluation "
            "(potential_five_star)"
        },
    )
    decision = fields.Nested(DecisionRef, load_default=None, allow_none=True)


@contract(
    "registry.certification.renewed",
    1,
    "registry",
    "A product was re-certified (tái chứng nhận): a new 36-month certification replaces the current or "
    "lapsed one. Same fields as registry.certification.granted, kind recertification.",
)
class CertificationRenewedV1(CertificationGrantedV1):
    pass


@contract(
    "registry.certification.upgraded",
    1,
    "registry",
    "A product's stars were raised on re-evaluation (nâng sao); the new certification replaces the current "
    "one. Same fields as registry.certification.granted, kind upgrade.",
)
class CertificationUpgradedV1(CertificationGrantedV1):
    pass


class _CertificationRef(_Data):
    certification_id = fields.String(required=True)
    product_id = fields.String(required=True)
    product_name = fields.String(required=True)
    producer_id = fields.String(required=True)
    producer_name = fields.String(required=True)
    valid_until = fields.Date(required=True)


@contract(
    "registry.certification.revoked",
    1,
    "registry",
    "A certification was revoked (thu hồi) by a provincial decision; the product is no longer OCOP.",
)
class CertificationRevokedV1(_CertificationRef):
    reason = fields.String(required=True)
    decision_number = fields.String(required=True)
    decision_date = fields.Date(required=True)
    # Added within v1 (issue 11): why as a code, and the revoke decision. A decision revoking many
    # certificates is one such event per certificate.
    reason_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["violation", "production_stopped", "not_re_evaluated_36_months"]),
    )
    decision = fields.Nested(DecisionRef, load_default=None, allow_none=True)


@contract(
    "registry.certification.expired",
    1,
    "registry",
    "A certification passed its 36-month validity without re-certification.",
)
class CertificationExpiredV1(_CertificationRef):
    pass


@contract(
    "registry.certification.expiring",
    1,
    "registry",
    "A certification expires within 30 days: the producer must be told and may file for re-certification.",
)
class CertificationExpiringV1(_CertificationRef):
    days_left = fields.Integer(required=True, validate=validate.Range(min=0, max=30))


# ---- commands from outside systems (exchange ocop.commands) and their answers -------------------
@contract(
    "registry.record_certification",
    1,
    "external",
    "Command: record a certification decision (e.g. from an evaluation council's software). `certification` "
    "has the fields of POST /certifications; the registry answers with registry.command.accepted or "
    "registry.command.rejected naming the command_id.",
)
class RecordCertificationV1(_Data):
    command_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    certification = fields.Dict(required=True)


@contract("registry.command.accepted", 1, "registry", "A command was applied; `result_id` names what it created.")
class CommandAcceptedV1(_Data):
    command_id = fields.String(required=True)
    command_type = fields.String(required=True)
    result_id = fields.String(required=True)
    decision_id = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "registry.record_certification: the decision the certificate was attached to "
            "(added within v1)"
        },
    )


@contract(
    "registry.command.rejected",
    1,
    "registry",
    "A command was refused; `errors` maps each field to its problems, nothing was written.",
)
class CommandRejectedV1(_Data):
    command_id = fields.String(required=True)
    command_type = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


__all__ = [
    "Consent",
    "ProducerRegisteredV1",
    "ProducerUpdatedV1",
    "ProductRegisteredV1",
    "ProductUpdatedV1",
    "DecisionRef",
    "CertificationGrantedV1",
    "CertificationRenewedV1",
    "CertificationUpgradedV1",
    "_CertificationRef",
    "CertificationRevokedV1",
    "CertificationExpiredV1",
    "CertificationExpiringV1",
    "RecordCertificationV1",
    "CommandAcceptedV1",
    "CommandRejectedV1",
]
