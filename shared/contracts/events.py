"""Event schemas, one class per (type, version). Data only; the envelope is in __init__."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from .registry import contract

LANGS = ["vi", "en"]
PRODUCER_KINDS = ["cooperative", "enterprise", "household", "cooperative_group"]
# The six socio-economic regions (codes); which province belongs to which is registry data.
REGIONS = [
    "northern_midlands_mountains",
    "red_river_delta",
    "north_central_coast",
    "central_highlands",
    "southeast",
    "mekong_delta",
]
FAIR_KINDS = ["trade_fair", "exhibition", "showcase_point"]
# "showcase" was the name of showcase_point before issue 4; messages already sent may still carry it.
_FAIR_KINDS_ON_WIRE = [*FAIR_KINDS, "showcase"]
FAIR_STATUSES = ["draft", "published", "inviting", "closed", "held", "cancelled"]
INVITATION_STATUSES = ["issued", "waitlisted", "accepted", "declined", "expired", "withdrawn"]
# Why an invitation was withdrawn, and why an answer was refused (events.invitation.withdrawn and
# .answer_refused carry the code beside the reason in words).
WITHDRAWAL_CAUSES = ("certificate_revoked", "certificate_expired", "fair_cancelled", "fair_full", "organiser", "other")
REFUSAL_CAUSES = (
    "deadline_passed",
    "already_answered",
    "closed",
    "waitlisted",
    "clash",
    "fair_full",
    "not_yours",
    "other",
)


class _Data(Schema):
    """Base for event data. Consumers ignore fields they do not know (also in nested schemas),
    so a producer may add an optional field within a version."""

    class Meta:
        unknown = EXCLUDE


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


class FairSummary(_Data):
    fair_id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(_FAIR_KINDS_ON_WIRE))
    venue = fields.String(required=True)
    host_province = fields.String(required=True)
    region = fields.String(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    subsidy_per_booth = fields.Integer(required=True, validate=validate.Range(min=0))
    # added within v1 (optional: older events lack them; a letter then names no organiser or contact)
    organiser = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "who holds the fair and invites (e.g. a province's trade promotion centre)"},
    )
    organiser_contact = fields.String(
        load_default=None, allow_none=True, metadata={"description": "the person producers may ask about the fair"}
    )
    organiser_phone = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the organiser's phone number for producers' questions"},
    )
    organiser_email = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the organiser's email address for producers' questions"},
    )


class _FairDetails(_Data):
    """What a fair's events carry besides the summary (optional on events.fair.published, which
    had only the summary, capacity, min_stars and deadline before)."""

    organiser_kind = fields.String(load_default=None, allow_none=True)
    host_province_entered = fields.String(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(FAIR_STATUSES))
    booths_assigned = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    response_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    budget = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    rules = fields.Dict(load_default=None, allow_none=True)


@contract(
    "events.fair.published",
    1,
    "events",
    "A fair was published (announced); when it also starts inviting, events.fair.inviting follows.",
)
class FairPublishedV1(FairSummary, _FairDetails):
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    min_stars = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    invitation_deadline = fields.AwareDateTime(required=True)


class FairStateV1(FairSummary, _FairDetails):
    """A fair's full state after a change (event-carried state transfer)."""

    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    invitation_deadline = fields.AwareDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(FAIR_STATUSES))
    booths_assigned = fields.Integer(required=True, validate=validate.Range(min=0))


@contract(
    "events.fair.updated",
    1,
    "events",
    "A draft, published or inviting fair was changed; `changed` names the fields, the rest is its new state.",
)
class FairUpdatedV1(FairStateV1):
    changed = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class _FairStatusChanged(FairStateV1):
    previous_status = fields.String(required=True, validate=validate.OneOf(FAIR_STATUSES))


@contract(
    "events.fair.inviting",
    1,
    "events",
    "A published fair started inviting: its invitations (events.invitation.issued) go out with this event.",
)
class FairInvitingV1(_FairStatusChanged):
    invited = fields.Integer(required=True, validate=validate.Range(min=0))
    waitlisted = fields.Integer(required=True, validate=validate.Range(min=0))


@contract(
    "events.fair.closed",
    1,
    "events",
    "A fair stopped inviting: unanswered invitations expired, no more promotions from the waitlist.",
)
class FairClosedV1(_FairStatusChanged):
    pass


@contract("events.fair.held", 1, "events", "A closed fair took place (recorded after its first day).")
class FairHeldV1(_FairStatusChanged):
    pass


@contract(
    "events.fair.cancelled",
    1,
    "events",
    "A fair was cancelled from an open state; every open invitation of it is withdrawn.",
)
class FairCancelledV1(_FairStatusChanged):
    reason = fields.String(load_default=None, allow_none=True)


class ProductSummary(_Data):
    product_id = fields.String(required=True)
    name = fields.String(required=True)
    # 0: not yet certified ("potential OCOP"), for a fair that admits such products (since issue 4)
    stars = fields.Integer(required=True, validate=validate.Range(min=0, max=5))


@contract("events.invitation.issued", 1, "events", "A producer was invited to a fair with some of its products.")
class InvitationIssuedV1(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    fair = fields.Nested(FairSummary, required=True)
    products = fields.List(fields.Nested(ProductSummary), required=True, validate=validate.Length(min=1))
    deadline = fields.AwareDateTime(required=True)
    score = fields.Float(required=True)
    reasons = fields.List(fields.String(), required=True)
    rank = fields.Integer(load_default=None, allow_none=True)
    score_parts = fields.Dict(keys=fields.String(), values=fields.Float(), load_default=None, allow_none=True)
    booth_count = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    # added within v1 (optional: older events lack them): the producer's province, for the letter
    # ("Vĩnh Long (Bến Tre cũ)": shared.reference.province_label)
    producer_province = fields.String(
        load_default=None, allow_none=True, metadata={"description": "the producer's current province"}
    )
    producer_province_entered = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the producer's province as entered, a pre-2025 name where it keeps one"},
    )


class _Answer(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    fair_id = fields.String(required=True)
    note = fields.String(load_default=None, allow_none=True)
    answered_at = fields.AwareDateTime(required=True)


@contract("events.invitation.accepted", 1, "events", "The producer accepted; a booth is held for it.")
class InvitationAcceptedV1(_Answer):
    booth = fields.Integer(required=True)
    booths = fields.List(fields.Integer(), load_default=None, allow_none=True)  # all its booths when more than one


@contract("events.invitation.declined", 1, "events", "The producer declined the invitation.")
class InvitationDeclinedV1(_Answer):
    pass


@contract(
    "events.invitation.expired",
    1,
    "events",
    "An issued invitation passed its deadline unanswered; its booth goes to the waitlist.",
)
class InvitationExpiredV1(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    fair_id = fields.String(required=True)
    deadline = fields.AwareDateTime(required=True)


@contract(
    "events.invitation.withdrawn",
    1,
    "events",
    "The organiser took an invitation back (certificate revoked or expired, fair cancelled or full, by hand); "
    "booths it held are free again.",
)
class InvitationWithdrawnV1(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    fair_id = fields.String(required=True)
    previous_status = fields.String(required=True, validate=validate.OneOf(INVITATION_STATUSES))
    reason = fields.String(required=True)
    booths = fields.List(fields.Integer(), required=True)  # booths freed (empty unless it was accepted)
    # added within v1 (optional: older events lack them; then read ``reason``)
    cause = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(WITHDRAWAL_CAUSES),
        metadata={"description": "why, as a code: " + ", ".join(WITHDRAWAL_CAUSES)},
    )
    detail = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "what the reason names: the product whose certificate ended, the organiser's note, "
            "the cancellation's reason"
        },
    )


@contract(
    "events.waitlist.promoted",
    1,
    "events",
    "A waitlisted producer moved up to an invitation (events.invitation.issued follows for it); `cause` says "
    "what freed the place.",
)
class WaitlistPromotedV1(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    fair_id = fields.String(required=True)
    rank = fields.Integer(required=True)
    cause = fields.String(
        required=True, validate=validate.OneOf(["declined", "expired", "withdrawn", "capacity_raised"])
    )
    cause_invitation_id = fields.String(load_default=None, allow_none=True)
    deadline = fields.AwareDateTime(required=True)


@contract(
    "events.booth.assigned",
    1,
    "events",
    "Booths were assigned to an accepted invitation; `booths_assigned` of `capacity` are now taken.",
)
class BoothAssignedV1(_Data):
    fair_id = fields.String(required=True)
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    booths = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1))
    booths_assigned = fields.Integer(required=True, validate=validate.Range(min=0))
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))


@contract(
    "events.invitation.answer_refused",
    1,
    "events",
    "An answer could not be applied (past the deadline, already answered); the reason says why.",
)
class InvitationAnswerRefusedV1(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    answer = fields.String(required=True, validate=validate.OneOf(["accept", "decline"]))
    reason = fields.String(required=True)
    # added within v1 (optional: older events lack it; then read ``reason``)
    cause = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(REFUSAL_CAUSES),
        metadata={"description": "why, as a code: " + ", ".join(REFUSAL_CAUSES)},
    )


@contract(
    "notifications.invitation.answered",
    1,
    "notifications",
    "A producer answered an invitation through its signed link.",
)
class InvitationAnsweredV1(_Data):
    invitation_id = fields.String(required=True)
    producer_id = fields.String(required=True)
    answer = fields.String(required=True, validate=validate.OneOf(["accept", "decline"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    answered_at = fields.AwareDateTime(required=True)


@contract("notifications.delivery.sent", 1, "notifications", "A message reached a channel (SMTP accepted it).")
class DeliverySentV1(_Data):
    delivery_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["email", "sms", "webhook"]))
    template = fields.String(required=True)
    producer_id = fields.String(required=True)
    cause_event_id = fields.String(required=True)


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
