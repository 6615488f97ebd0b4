"""Contracts the events service publishes: fairs and invitations. Data only; the envelope is in __init__."""

from __future__ import annotations

from marshmallow import fields, validate

from .registry import contract
from .vocabulary import (
    _FAIR_KINDS_ON_WIRE,
    FAIR_STATUSES,
    INVITATION_STATUSES,
    REFUSAL_CAUSES,
    WITHDRAWAL_CAUSES,
    _Data,
)


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


__all__ = [
    "FairSummary",
    "_FairDetails",
    "FairPublishedV1",
    "FairStateV1",
    "FairUpdatedV1",
    "_FairStatusChanged",
    "FairInvitingV1",
    "FairClosedV1",
    "FairHeldV1",
    "FairCancelledV1",
    "ProductSummary",
    "InvitationIssuedV1",
    "_Answer",
    "InvitationAcceptedV1",
    "InvitationDeclinedV1",
    "InvitationExpiredV1",
    "InvitationWithdrawnV1",
    "WaitlistPromotedV1",
    "BoothAssignedV1",
    "InvitationAnswerRefusedV1",
    "InvitationAnsweredV1",
]
