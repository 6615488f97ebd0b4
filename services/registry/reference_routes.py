"""Reference data beside the criteria (``GET /criteria``): the evaluation procedure by date and the
provinces with their pre-2025 predecessors and regions (``shared/reference.py``, data files in
``reference/``)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from shared import reference
from shared.auth import require
from shared.instants import vietnam_today

blp = Blueprint("reference", __name__, url_prefix="/", description="Reference data: procedure and provinces")
READERS = ("registry_officer", "trade_officer", "integration", "producer")


class StepOut(Schema):
    level = fields.String(required=True, metadata={"description": ", ".join(reference.LEVELS)})
    certifies = fields.List(
        fields.Integer(),
        required=True,
        metadata={
            "description": "the stars a decision of this level may certify; empty: the level checks or pre-evaluates"
        },
    )
    does = fields.String(required=True)
    does_en = fields.String(required=True)


class ProcedureOut(Schema):
    code = fields.String(required=True, metadata={"description": "the decision, e.g. 1489/QĐ-TTg"})
    title = fields.String(required=True)
    decision_date = fields.Date(required=True)
    effective_from = fields.Date(required=True)
    effective_to = fields.Date(required=True, allow_none=True, metadata={"description": "null: still in force"})
    in_force = fields.Boolean(required=True)
    steps = fields.List(fields.Nested(StepOut), required=True)


class ProvinceOut(Schema):
    name = fields.String(required=True, metadata={"description": "a current (post-July-2025) province"})
    region = fields.String(required=True)
    predecessors = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "its pre-2025 provinces -> each one's own region (a record entered under an old name "
            "takes that region for fair rules and statistics)"
        },
    )
    straddles = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "the regions its predecessors lay in, when more than one; else empty"},
    )


def _procedure_out(procedure: reference.Procedure) -> dict:
    today = vietnam_today()
    return {
        "code": procedure.code,
        "title": procedure.title,
        "decision_date": procedure.decision_date,
        "effective_from": procedure.effective_from,
        "effective_to": procedure.effective_to,
        "in_force": procedure.in_force_on(today),
        "steps": [
            {"level": s.level, "certifies": list(s.certifies), "does": s.does, "does_en": s.does_en}
            for s in procedure.steps
        ],
    }


@blp.route("/procedures")
class Procedures(MethodView):
    @require(*READERS)
    @blp.response(200, ProcedureOut(many=True))
    def get(self):
        """The OCOP evaluation procedure's versions (reference data) with their dates: which level checks,
        evaluates and certifies which stars (three tiers before 1 July 2025, two since, 1489/QĐ-TTg)."""
        return [_procedure_out(p) for p in reference.PROCEDURES]


@blp.route("/provinces")
class Provinces(MethodView):
    @require(*READERS)
    @blp.response(200, ProvinceOut(many=True))
    def get(self):
        """The 34 current provinces with their region, their pre-2025 predecessors (each with its own
        region) and, for a merged province whose predecessors lay in two regions, those regions."""
        straddling = reference.straddling()
        return [
            {
                "name": name,
                "region": region,
                "predecessors": reference.predecessors(name),
                "straddles": straddling.get(name, []),
            }
            for name, region in reference.current_provinces().items()
        ]
