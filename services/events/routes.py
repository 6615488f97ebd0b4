"""Events-service HTTP API: URL rules and views only."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from shared.auth import own_producer_only, require
from shared.errors import NotFound
from shared.web import runtime_of

from . import operations as ops
from .models import CertifiedProduct
from .schemas import AnswerIn, CertifiedProductOut, FairIn, FairOut, InvitationOut, PickOut

blp = Blueprint("events", __name__, url_prefix="/", description="Fairs, matching and invitations")
STAFF = ("trade_officer", "integration")


def rt():
    return runtime_of(current_app)


@blp.route("/fairs")
class Fairs(MethodView):
    @require(*STAFF, "producer")
    @blp.response(200, FairOut(many=True))
    def get(self):
        """Fairs, soonest first."""
        with rt().transaction() as s:
            return ops.list_fairs(s)

    @require("trade_officer")
    @blp.arguments(FairIn)
    @blp.response(201, FairOut)
    def post(self, data):
        """Create a fair (draft) with its eligibility rules."""
        with rt().transaction() as s:
            return ops.create_fair(s, data)


@blp.route("/fairs/<fair_id>")
class FairById(MethodView):
    @require(*STAFF, "producer")
    @blp.response(200, FairOut)
    def get(self, fair_id):
        """A fair with its rules, status and booths assigned."""
        with rt().transaction() as s:
            return ops.get_fair(s, fair_id)


@blp.route("/fairs/<fair_id>/publish")
class PublishFair(MethodView):
    @require("trade_officer")
    @blp.response(200, FairOut)
    def post(self, fair_id):
        """Publish the fair: match products and invite the best producers, waitlisting the rest."""
        with rt().transaction() as s:
            return ops.publish_fair(s, rt().emit, fair_id)


@blp.route("/fairs/<fair_id>/preview")
class PreviewFair(MethodView):
    @require("trade_officer")
    @blp.response(200, PickOut(many=True))
    def get(self, fair_id):
        """Who would be invited, with score parts and reasons, without sending anything."""
        with rt().transaction() as s:
            return ops.preview(s, ops.get_fair(s, fair_id))


@blp.route("/fairs/<fair_id>/invitations")
class FairInvitations(MethodView):
    @require(*STAFF)
    @blp.response(200, InvitationOut(many=True))
    def get(self, fair_id):
        """The fair's invitations in rank order: issued, waitlisted, accepted and declined."""
        with rt().transaction() as s:
            return ops.list_invitations(s, fair_id)


@blp.route("/invitations/<invitation_id>")
class InvitationById(MethodView):
    @require(*STAFF, "producer")
    @blp.response(200, InvitationOut)
    def get(self, invitation_id):
        """An invitation with its products, score parts and reasons; a producer may read only its own."""
        with rt().transaction() as s:
            inv = ops.get_invitation(s, invitation_id)
            own_producer_only(inv.producer_id)
            return inv


@blp.route("/invitations/<invitation_id>/answer")
class AnswerInvitation(MethodView):
    @require("producer")
    @blp.arguments(AnswerIn)
    @blp.response(200, InvitationOut)
    def post(self, data, invitation_id):
        """A producer accepts or declines its own invitation (the signed email link is the other way)."""
        from flask import g

        with rt().transaction() as s:
            return ops.answer_invitation(s, rt().emit, invitation_id, g.principal.get("sub") or "", data["answer"],
                                         data["note"], datetime.now(UTC))


@blp.route("/catalogue/<product_id>")
class CatalogueProduct(MethodView):
    @require(*STAFF)
    @blp.response(200, CertifiedProductOut)
    def get(self, product_id):
        """A product as the events service knows it (its read model, built from registry events)."""
        with rt().transaction() as s:
            row = s.get(CertifiedProduct, product_id)
            if row is None:
                raise NotFound(f"no certified product {product_id} in the read model", field="product_id")
            return row
