"""Decisions API: a decision with its list of certificates, the list of decisions, one decision
with its certificates, and revoking a decision's certificates by a revoke decision of its own.
URL rules and views only; the rules are in decision_ops, decisions, operations and domain."""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from shared.auth import require
from shared.instants import vietnam_today
from shared.web import runtime_of

from . import decision_ops, decisions
from .decision_schemas import DecisionDetailOut, DecisionIn, DecisionPage, DecisionQuery, DecisionRevocationIn

blp = Blueprint(
    "decisions",
    __name__,
    url_prefix="/",
    description="Decisions (quyết định): one decision certifies, upgrades or revokes many products",
)

STAFF = ("registry_officer", "trade_officer", "integration")


def _today():
    return vietnam_today()


def _actor() -> str:
    return g.principal.get("sub") or g.principal["role"]


def _detail(session, decision) -> dict:
    return {**decisions.out(decision), "certificates": decisions.certificates(session, decision)}


@blp.route("/decisions")
class Decisions(MethodView):
    @require(*STAFF)
    @blp.arguments(DecisionQuery, location="query")
    @blp.response(200, DecisionPage)
    def get(self, query):
        """Decisions, newest first: filters by year (of the decision date), kind, level and authority; pages."""
        page, per_page = query.pop("page"), query.pop("per_page")
        rt = runtime_of(current_app)
        with rt.transaction() as s:
            total, items = decisions.listing(s, query, page, per_page)
        return {"total": total, "page": page, "per_page": per_page, "items": items}

    @require("registry_officer")
    @blp.arguments(DecisionIn)
    @blp.response(201, DecisionDetailOut)
    def post(self, data):
        """Record a decision with its list of certificates, all or nothing.

        Each certificate is checked as POST /certifications checks one (stars from the score and the
        decision's level: only the national level certifies 5★, a provincial 90+ is 4★ and proposes
        the product for national evaluation); refused ones are named by index and field."""
        rt = runtime_of(current_app)
        with rt.transaction() as s:
            decision = decision_ops.create_decision(s, rt.emit, data, _today(), _actor())
            return _detail(s, decision)


@blp.route("/decisions/<decision_id>")
class DecisionById(MethodView):
    @require(*STAFF)
    @blp.response(200, DecisionDetailOut)
    def get(self, decision_id):
        """A decision with its certificates (a revoke decision: the certificates it revoked)."""
        rt = runtime_of(current_app)
        with rt.transaction() as s:
            return _detail(s, decisions.get(s, decision_id))


@blp.route("/decisions/<decision_id>/revoke")
class RevokeDecision(MethodView):
    @require("registry_officer")
    @blp.arguments(DecisionRevocationIn)
    @blp.response(201, DecisionDetailOut)
    def post(self, data, decision_id):
        """Revoke (thu hồi) every current certificate of a decision, or those listed, in one step.

        Recorded as a revoke decision of its own (number, date, authority, reason code) listing what it
        revoked; one registry.certification.revoked event per certificate."""
        rt = runtime_of(current_app)
        with rt.transaction() as s:
            revoking = decision_ops.revoke_decision(s, rt.emit, decision_id, data, _today(), _actor())
            return _detail(s, revoking)
