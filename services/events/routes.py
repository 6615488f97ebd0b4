"""Events-service HTTP API: URL rules and views only."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from shared.auth import own_producer_only, require
from shared.web import rt

from . import explain, fairs, invitations, queries, standings
from .schemas import (
    AnswerIn,
    CancelIn,
    CertifiedProductOut,
    ExplainOut,
    FairIn,
    FairListArgs,
    FairOut,
    FairPatch,
    FairPublicOut,
    InvitationListArgs,
    InvitationOut,
    PickOut,
    PreviewArgs,
    PublishArgs,
    WithdrawIn,
)

blp = Blueprint("events", __name__, url_prefix="/", description="Fairs, matching and invitations")
STAFF = ("trade_officer", "integration")


def _producer() -> bool:
    return g.principal.get("role") == "producer"


@blp.route("/fairs")
class Fairs(MethodView):
    @require(*STAFF, "producer")
    @blp.arguments(FairListArgs, location="query")
    @blp.response(200, FairOut(many=True))
    def get(self, args):
        """Fairs, soonest first; filter by status or kind. A producer sees the announced fairs only
        (as the public calendar lists them), with their public fields (FairPublicOut: no capacity,
        subsidy, budget or rules)."""
        with rt().transaction() as s:
            if _producer():
                return jsonify(
                    FairPublicOut(many=True).dump(queries.public_fairs(s, kind=args["kind"], status=args["status"]))
                )
            return queries.list_fairs(s, args["status"], args["kind"])

    @require("trade_officer")
    @blp.arguments(FairIn)
    @blp.response(201, FairOut)
    def post(self, data):
        """Create a fair (draft) with its eligibility rules; `clashes` lists other fairs at the same venue."""
        with rt().transaction() as s:
            return queries.with_clashes(s, fairs.create_fair(s, data, owner_scope=g.principal.get("scope")))


@blp.route("/fairs/<fair_id>")
class FairById(MethodView):
    @require(*STAFF, "producer")
    @blp.response(200, FairOut)
    def get(self, fair_id):
        """A fair with its rules, status and booths assigned. A producer reads an announced fair
        only (404 for a draft), with its public fields (FairPublicOut)."""
        with rt().transaction() as s:
            if _producer():
                return jsonify(FairPublicOut().dump(queries.public_fair(s, fair_id)))
            return queries.with_clashes(s, queries.get_fair(s, fair_id))

    @require("trade_officer")
    @blp.arguments(FairPatch(partial=True))
    @blp.response(200, FairOut)
    def patch(self, changes, fair_id):
        """Change a draft or published fair (rules merge key by key); while inviting, only its name,
        organiser, venue, capacity, subsidy and budget. More capacity while inviting promotes from the waitlist."""
        with rt().transaction() as s:
            return queries.with_clashes(s, fairs.update_fair(s, rt().emit, fair_id, changes))


@blp.route("/fairs/<fair_id>/publish")
class PublishFair(MethodView):
    @require("trade_officer")
    @blp.arguments(PublishArgs, location="query")
    @blp.response(200, FairOut)
    def post(self, args, fair_id):
        """Publish the fair and (unless `invite=false`) start inviting: match products, invite the best
        producers, waitlist the next ones."""
        with rt().transaction() as s:
            return fairs.publish_fair(s, rt().emit, fair_id, invite=args["invite"])


@blp.route("/fairs/<fair_id>/invite")
class InviteFair(MethodView):
    @require("trade_officer")
    @blp.response(200, FairOut)
    def post(self, fair_id):
        """A published fair starts inviting: match, invite, waitlist."""
        with rt().transaction() as s:
            return fairs.start_inviting(s, rt().emit, fair_id)


@blp.route("/fairs/<fair_id>/close")
class CloseFair(MethodView):
    @require("trade_officer")
    @blp.response(200, FairOut)
    def post(self, fair_id):
        """Stop inviting: unanswered invitations expire, the waitlist stays as it is."""
        with rt().transaction() as s:
            return fairs.close_fair(s, rt().emit, fair_id)


@blp.route("/fairs/<fair_id>/hold")
class HoldFair(MethodView):
    @require("trade_officer")
    @blp.response(200, FairOut)
    def post(self, fair_id):
        """Record that a closed fair took place (from its first day)."""
        with rt().transaction() as s:
            return fairs.hold_fair(s, rt().emit, fair_id)


@blp.route("/fairs/<fair_id>/cancel")
class CancelFair(MethodView):
    @require("trade_officer")
    @blp.arguments(CancelIn)
    @blp.response(200, FairOut)
    def post(self, data, fair_id):
        """Cancel a fair in any open state; every open invitation is withdrawn."""
        with rt().transaction() as s:
            return fairs.cancel_fair(s, rt().emit, fair_id, data["reason"])


@blp.route("/fairs/<fair_id>/preview")
class PreviewFair(MethodView):
    @require("trade_officer")
    @blp.arguments(PreviewArgs, location="query")
    @blp.response(200, PickOut(many=True))
    def get(self, args, fair_id):
        """The ranking as it stands: who would be invited, waitlisted or fall below the cut, with score
        parts and reasons (the first `limit` producers). Nothing is sent."""
        with rt().transaction() as s:
            return standings.preview(s, queries.get_fair(s, fair_id))[: args["limit"]]


@blp.route("/fairs/<fair_id>/explain/<product_id>")
class ExplainProduct(MethodView):
    @require(*STAFF)
    @blp.response(200, ExplainOut)
    def get(self, fair_id, product_id):
        """Why a product was or was not chosen for the fair: the rules it fails, or its rank and score
        against the cut."""
        with rt().transaction() as s:
            return explain.explain(s, fair_id, product_id)


@blp.route("/fairs/<fair_id>/invitations")
class FairInvitations(MethodView):
    @require(*STAFF)
    @blp.arguments(InvitationListArgs, location="query")
    @blp.response(200, InvitationOut(many=True))
    def get(self, args, fair_id):
        """The fair's invitations in rank order (filter by status)."""
        with rt().transaction() as s:
            return queries.list_invitations(s, fair_id, args["status"])


@blp.route("/invitations/<invitation_id>")
class InvitationById(MethodView):
    @require(*STAFF, "producer")
    @blp.response(200, InvitationOut)
    def get(self, invitation_id):
        """An invitation with its products, score parts and reasons; a producer may read only its own."""
        with rt().transaction() as s:
            inv = queries.get_invitation(s, invitation_id)
            own_producer_only(inv.producer_id)
            return inv


@blp.route("/invitations/<invitation_id>/answer")
class AnswerInvitation(MethodView):
    @require("producer")
    @blp.arguments(AnswerIn)
    @blp.response(200, InvitationOut)
    def post(self, data, invitation_id):
        """A producer accepts or declines its own invitation (the signed email link is the other way)."""
        with rt().transaction() as s:
            return invitations.answer_invitation(
                s,
                rt().emit,
                invitation_id,
                g.principal.get("sub") or "",
                data["answer"],
                data["note"],
                datetime.now(UTC),
            )


@blp.route("/invitations/<invitation_id>/withdraw")
class WithdrawInvitation(MethodView):
    @require("trade_officer")
    @blp.arguments(WithdrawIn)
    @blp.response(200, InvitationOut)
    def post(self, data, invitation_id):
        """The organiser takes an invitation back (booths it held are freed); the next waitlisted moves up."""
        with rt().transaction() as s:
            return invitations.withdraw_invitation(s, rt().emit, invitation_id, data["reason"])


@blp.route("/catalogue/<product_id>")
class CatalogueProduct(MethodView):
    @require(*STAFF)
    @blp.response(200, CertifiedProductOut)
    def get(self, product_id):
        """A certified product as the events service knows it (its read model, built from registry events)."""
        with rt().transaction() as s:
            return queries.certified_product(s, product_id)
