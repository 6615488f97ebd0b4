"""Webhook subscriptions over HTTP. Each belongs to the identity that made it: another integration
gets 404 for it (not 403: ids cannot be probed), an admin sees every one. A URL outside the
target policy (README, "Webhooks for integrating services") is refused with 422 naming ``url``."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from shared.auth import require
from shared.web import rt

from . import subscriptions as subs
from .schemas import (
    EventTypesOut,
    WebhookDeliveryOut,
    WebhookDeliveryQuery,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookSecretOut,
)
from .webhook_targets import policy_for
from .webhooks import subscribable_types

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/",
    description="Webhook subscriptions of integrating services, each visible to its owner and admins",
)


def _owner() -> str | None:
    return subs.owner_of(g.principal)


@blp.route("/webhooks/event-types")
class WebhookEventTypes(MethodView):
    @require("integration", "trade_officer")
    @blp.response(200, EventTypesOut)
    def get(self):
        """The event types a webhook subscription can follow."""
        return {"event_types": subscribable_types()}


@blp.route("/webhooks")
class Webhooks(MethodView):
    @require("integration", "trade_officer")
    @blp.response(200, WebhookOut(many=True))
    def get(self):
        """The caller's webhook subscriptions (an admin: every one)."""
        with rt().transaction() as s:
            return subs.list_subscriptions(s, _owner())

    @require("integration", "trade_officer")
    @blp.arguments(WebhookIn)
    @blp.response(201, WebhookSecretOut)
    def post(self, body):
        """Subscribe a URL to event types; the answer carries the signing secret (only this once).

        The URL must be within the target policy: https, a public address (checked for every address
        its name resolves to), an allowed port, no credentials; 422 naming ``url`` otherwise."""
        with rt().transaction() as s:
            return subs.create_subscription(s, body, subs.principal_name(g.principal), policy_for(rt().settings))


@blp.route("/webhooks/<subscription_id>")
class Webhook(MethodView):
    @require("integration", "trade_officer")
    @blp.response(200, WebhookOut)
    def get(self, subscription_id):
        """One of the caller's subscriptions (without its secret)."""
        with rt().transaction() as s:
            return subs.get_subscription(s, subscription_id, _owner())

    @require("integration", "trade_officer")
    @blp.arguments(WebhookPatch)
    @blp.response(200, WebhookSecretOut)
    def patch(self, body, subscription_id):
        """Change the URL (within the target policy), event types, description or active flag, or
        rotate the secret (returned then)."""
        with rt().transaction() as s:
            row = subs.update_subscription(s, subscription_id, body, _owner(), policy_for(rt().settings))
            out = {name: getattr(row, name) for name in WebhookOut().fields}
            if body.get("secret") or body.get("rotate_secret"):
                out["secret"] = row.secret
            return out

    @require("integration", "trade_officer")
    @blp.response(204)
    def delete(self, subscription_id):
        """Remove one of the caller's subscriptions and its delivery log."""
        with rt().transaction() as s:
            subs.delete_subscription(s, subscription_id, _owner())


@blp.route("/webhooks/<subscription_id>/deliveries")
class WebhookDeliveries(MethodView):
    @require("integration", "trade_officer")
    @blp.arguments(WebhookDeliveryQuery, location="query")
    @blp.response(200, WebhookDeliveryOut(many=True))
    def get(self, query, subscription_id):
        """The subscription's delivery log: each event, status, attempts, the receiver's last HTTP
        status and why the last attempt failed (in our words, never the receiver's answer)."""
        with rt().transaction() as s:
            return subs.delivery_log(s, subscription_id, _owner(), query.get("status"))


@blp.route("/webhooks/<subscription_id>/deliveries/<delivery_id>/retry")
class WebhookDeliveryRetry(MethodView):
    @require("integration", "trade_officer")
    @blp.response(200, WebhookDeliveryOut)
    def post(self, subscription_id, delivery_id):
        """Re-drive a parked webhook delivery of one of the caller's subscriptions."""
        with rt().transaction() as s:
            return subs.redrive_webhook(s, subscription_id, delivery_id, _owner())
