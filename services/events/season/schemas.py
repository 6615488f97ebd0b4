"""Request and response schemas of season planning (``season_routes.py``)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.fields import Line, bounded_list

from ..schemas import _unique


class SeasonIn(Schema):
    """The season: fairs by id, or every draft or published fair starting in a date range."""

    fair_ids = bounded_list(
        Line(min_length=1, max_length=36),
        min_items=1,
        max_items=300,
        load_default=None,
        validate=_unique,
        metadata={"description": "The fairs to plan together (each draft or published)."},
    )
    starts_from = fields.Date(
        load_default=None,
        metadata={
            "description": "With starts_until: every draft or published fair whose first day falls in the range."
        },
    )
    starts_until = fields.Date(load_default=None)
    limit = fields.Integer(
        load_default=100,
        strict=True,
        validate=validate.Range(min=0, max=10_000),
        metadata={
            "description": "How many of each fair's choices (invitations, then waitlist) to list in the answer; "
            "the counts and the spread always cover them all."
        },
    )

    @validates_schema
    def _one_way(self, data, **_):
        by_ids, by_range = data.get("fair_ids") is not None, (data.get("starts_from"), data.get("starts_until"))
        if by_ids and any(by_range):
            raise ValidationError("Give either fair_ids or a date range, not both.", "fair_ids")
        if not by_ids:
            if by_range[0] is None:
                raise ValidationError("Give fair_ids, or starts_from and starts_until.", "starts_from")
            if by_range[1] is None:
                raise ValidationError("Give starts_until with starts_from.", "starts_until")
            if by_range[1] < by_range[0]:
                raise ValidationError("Is before starts_from.", "starts_until")


class ProductBriefOut(Schema):
    product_id = fields.String()
    name = fields.String()
    stars = fields.Integer()


class ChoiceOut(Schema):
    """One producer for one fair: invited or waitlisted, and why."""

    rank = fields.Integer(
        metadata={
            "description": "Place in the fair's season order: the invitation's rank "
            "(the waitlist moves up in this order)."
        }
    )
    outcome = fields.String(metadata={"description": "issue or waitlist"})
    hold = fields.String(allow_none=True, metadata={"description": "Why waitlisted."})
    producer_id = fields.String()
    producer_name = fields.String()
    province = fields.String(allow_none=True)
    region = fields.String()
    group = fields.Integer()
    booths = fields.Integer()
    score = fields.Float()
    parts = fields.Dict()
    reasons = fields.List(fields.String())
    products = fields.List(fields.Nested(ProductBriefOut))
    fair_rank = fields.Integer(metadata={"description": "Place in the fair's own ranking (matching it alone)."})
    season_invitations_before = fields.Integer(
        metadata={"description": "Invitations the producer already had in the season when chosen."}
    )
    round = fields.Integer(metadata={"description": "The round it was invited in (0: waitlisted after the rounds)."})
    invitation_id = fields.String(allow_none=True, metadata={"description": "Once applied."})


class SeasonFairOut(Schema):
    fair_id = fields.String()
    name = fields.String()
    kind = fields.String()
    status = fields.String()
    host_province = fields.String()
    region = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    capacity = fields.Integer()
    eligible_producers = fields.Integer(metadata={"description": "Producers in the fair's ranking."})
    invited = fields.Integer()
    waitlisted = fields.Integer()
    greedy_invited = fields.Integer(metadata={"description": "Producers matching this fair alone would invite."})
    overlapping_fairs = fields.List(
        fields.String(),
        metadata={"description": "The season's staffed fairs on overlapping dates: nobody is invited to two of them."},
    )
    choices = fields.List(fields.Nested(ChoiceOut))


class AreaOut(Schema):
    invitations = fields.Integer()
    producers_invited = fields.Integer()
    eligible = fields.Integer()
    share_invited = fields.Float()


class SpreadOut(Schema):
    invitations = fields.Integer()
    producers_invited = fields.Integer()
    eligible_producers = fields.Integer(metadata={"description": "Producers eligible for at least one fair."})
    share_invited = fields.Float(metadata={"description": "Of the eligible producers, those invited at least once."})
    gini = fields.Float(
        metadata={
            "description": "Gini coefficient of invitations per eligible producer (0: "
            "even; towards 1: a few hold them all)."
        }
    )
    most_invitations = fields.Integer(metadata={"description": "Invitations to the producer with the most."})
    invitations_per_producer = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Number of invitations -> producers with that many (0 included)."},
    )
    by_region = fields.Dict(keys=fields.String(), values=fields.Nested(AreaOut))
    by_province = fields.Dict(keys=fields.String(), values=fields.Nested(AreaOut))
    fill = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "Invitations over booths to offer, across the fairs: min, median, max."},
    )
    double_bookings = fields.Integer(metadata={"description": "Producers invited to two overlapping staffed fairs."})
    per_fair = fields.Dict(keys=fields.String(), values=fields.Integer())


class SpreadsOut(Schema):
    plan = fields.Nested(SpreadOut)
    greedy = fields.Nested(SpreadOut, metadata={"description": "Each fair matched on its own."})


class SeasonOut(Schema):
    applied = fields.Boolean()
    method = fields.String()
    rounds = fields.Integer()
    fairs = fields.List(fields.Nested(SeasonFairOut), metadata={"description": "In season order."})
    spread = fields.Nested(SpreadsOut)
