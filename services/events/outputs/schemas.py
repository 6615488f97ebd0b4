"""Request and response schemas of the events service's outputs (``output_routes.py``): calendar
feeds, the participants' export and the programme figures."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from shared.contracts.events import FAIR_KINDS, INVITATION_STATUSES, REGIONS
from shared.fields import Line

from ..schemas import ProvinceName
from .figures import FIRST_YEAR, LAST_YEAR


def _unique(values):
    if len(set(values)) != len(values):
        raise ValidationError("Lists a value twice.")


class FeedArgs(Schema):
    region = fields.String(
        load_default=None,
        validate=validate.OneOf(REGIONS),
        metadata={"description": "only fairs hosted in this region"},
    )
    kind = fields.String(load_default=None, validate=validate.OneOf(FAIR_KINDS))


class ProducerFeedArgs(Schema):
    token = Line(
        load_default=None,
        min_length=1,
        max_length=500,
        metadata={
            "description": "the signed feed link's token (from .../calendar-link), for calendar apps that cannot "
            "send a bearer token"
        },
    )


class FeedLinkOut(Schema):
    producer_id = fields.String()
    url = fields.String(
        metadata={
            "description": "subscribe to this URL (webcal:// works too); anyone holding "
            "it can read the producer's calendar"
        }
    )
    webcal = fields.String()
    revocation = fields.String()


class ParticipantsArgs(Schema):
    status = DelimitedList(
        fields.String(validate=validate.OneOf(INVITATION_STATUSES)),
        load_default=lambda: ["accepted"],
        validate=[validate.Length(min=1, max=len(INVITATION_STATUSES)), _unique],
        metadata={
            "description": "comma-separated invitation statuses, e.g. accepted,issued,waitlisted (default: accepted)"
        },
    )


class FiguresArgs(Schema):
    year = fields.Integer(
        load_default=None,
        strict=False,
        validate=validate.Range(min=FIRST_YEAR, max=LAST_YEAR),
        metadata={"description": "fairs starting in this calendar year (default: this year, unless from/to are given)"},
    )
    from_ = fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": f"first day of a range (years {FIRST_YEAR} to {LAST_YEAR})"},
    )
    to = fields.Date(
        load_default=None,
        metadata={"description": f"last day of a range (inclusive; years {FIRST_YEAR} to {LAST_YEAR})"},
    )
    province = DelimitedList(
        ProvinceName(),
        load_default=list,
        validate=[validate.Length(max=100), _unique],
        metadata={
            "description": "comma-separated producer provinces (old names accepted): the breakdowns, totals of "
            "invitations and fairness count only producers from these (or from `region`)"
        },
    )
    region = DelimitedList(
        fields.String(validate=validate.OneOf(REGIONS)),
        load_default=list,
        validate=[validate.Length(max=len(REGIONS)), _unique],
        metadata={"description": "comma-separated producer regions, as `province`"},
    )

    @validates_schema
    def _one_period(self, data, **_):
        if data.get("year") is not None and (data.get("from_") is not None or data.get("to") is not None):
            raise ValidationError("give a year or a range (from, to), not both", field_name="year")


class PeriodOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()


class FiltersOut(Schema):
    provinces = fields.List(fields.String())
    regions = fields.List(fields.String())


class _Money(Schema):
    capacity = fields.Integer()
    booths_assigned = fields.Integer()
    fill_rate = fields.Float(allow_none=True, metadata={"description": "booths assigned / capacity"})
    subsidy_committed = fields.Integer(metadata={"description": "booths assigned × subsidy per booth (đồng)"})
    budget = fields.Integer(allow_none=True)
    budget_used = fields.Float(allow_none=True, metadata={"description": "subsidy committed / budget"})


class FairFiguresOut(_Money):
    fair_id = fields.String()
    name = fields.String()
    kind = fields.String()
    status = fields.String()
    host_province = fields.String()
    region = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    subsidy_per_booth = fields.Integer()
    budget_left = fields.Integer(allow_none=True)
    invitations = fields.Integer(metadata={"description": "invitations offered, any producer"})
    acceptances = fields.Integer()


class OverallOut(_Money):
    fairs = fields.Integer()
    cancelled_fairs = fields.Integer()
    fairs_with_budget = fields.Integer()
    invitations = fields.Integer(metadata={"description": "invitations offered (to producers in the filters)"})
    acceptances = fields.Integer()
    acceptance_rate = fields.Float(allow_none=True)


class TallyOut(Schema):
    key = fields.String()
    invitations = fields.Integer()
    acceptances = fields.Integer()
    acceptance_rate = fields.Float(allow_none=True)


class FairnessOut(Schema):
    eligible_producers = fields.Integer(
        metadata={"description": "producers with a product certified at some time in the period (read model)"}
    )
    invited_producers = fields.Integer()
    eligible_invited = fields.Integer()
    invited_share = fields.Float(allow_none=True, metadata={"description": "eligible_invited / eligible_producers"})
    invitations = fields.Integer()
    spread_over = fields.Integer(
        metadata={"description": "producers the spread is measured over: the eligible ones and any other invited"}
    )
    gini = fields.Float(metadata={"description": "Gini coefficient of invitations per producer (0: even)"})
    top10_share = fields.Float(
        allow_none=True, metadata={"description": "share of the invitations that went to the top 10% of producers"}
    )
    max_per_producer = fields.Integer()


class FiguresOut(Schema):
    period = fields.Nested(PeriodOut)
    filters = fields.Nested(FiltersOut)
    overall = fields.Nested(OverallOut)
    fairs = fields.List(fields.Nested(FairFiguresOut))
    by_region = fields.List(fields.Nested(TallyOut))
    by_province = fields.List(fields.Nested(TallyOut))
    by_group = fields.List(fields.Nested(TallyOut))
    by_producer_kind = fields.List(fields.Nested(TallyOut))
    fairness = fields.Nested(FairnessOut)
