"""Token revocation (admins only): ``POST /tokens/revocations`` records a token's id on the deny list,
here and, through ``registry.token.revoked``, in the events and notifications services
(``shared.revocation``). ``python -m services.registry.manage revoke-token JTI`` does the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates

from shared import revocation
from shared.auth import MAX_INTEGRATION_TTL, require
from shared.fields import CODE, NOTE, Line
from shared.instants import UtcDateTime
from shared.web import runtime_of

from .models import RevokedToken

blp = Blueprint("tokens", __name__, url_prefix="/", description="Revoking API tokens before they expire")


class TokenRevocationIn(Schema):
    jti = Line(
        required=True,
        min_length=1,
        max_length=CODE,
        metadata={"description": "the token's id (its `jti` claim; `python -m shared.auth` prints it)"},
    )
    exp = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=0),
        metadata={
            "description": "the token's `exp` (seconds since 1970); default: the longest "
            "a token can live from now (90 days)"
        },
    )
    reason = Line(required=True, min_length=1, max_length=min(NOTE, 300))

    @validates("exp")
    def _within_reach(self, value, **_kwargs):
        if value is not None and value > datetime.now(UTC).timestamp() + MAX_INTEGRATION_TTL + 3600:
            raise ValidationError("Later than any token can live.")


class TokenRevocationOut(Schema):
    jti = fields.String(required=True)
    expires_at = UtcDateTime(required=True)
    reason = fields.String(required=True)
    new = fields.Boolean(required=True, metadata={"description": "false: it was already revoked"})


def revoke(session, emit, jti: str, exp: int | None, reason: str) -> dict:
    """Record a revocation and publish it (once: revoking again changes nothing)."""
    expires_at = (
        datetime.fromtimestamp(exp, UTC)
        if exp is not None
        else datetime.now(UTC) + timedelta(seconds=MAX_INTEGRATION_TTL)
    )
    new = revocation.record(session, RevokedToken, jti, expires_at, reason)
    if new:
        emit(session, revocation.EVENT_TYPE, jti, 0, {"jti": jti, "expires_at": expires_at, "reason": reason})
    row = session.get(RevokedToken, jti)
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return {"jti": jti, "expires_at": expires, "reason": row.reason, "new": new}


@blp.route("/tokens/revocations")
class Revocations(MethodView):
    @require("admin")
    @blp.arguments(TokenRevocationIn)
    @blp.response(201, TokenRevocationOut)
    @blp.alt_response(200, schema=TokenRevocationOut, description="already revoked")
    def post(self, body):
        """Revoke an API token by its id: every service refuses it within seconds, until it expires."""
        rt = runtime_of(current_app)
        with rt.transaction() as s:
            out = revoke(s, rt.emit, body["jti"], body["exp"], body["reason"])
        return out, 201 if out["new"] else 200
