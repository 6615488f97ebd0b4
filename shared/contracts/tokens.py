"""Security events: an API token revoked before its expiry (the deny list, ``shared.revocation``)."""

from __future__ import annotations

from marshmallow import fields, validate

from .events import _Data
from .registry import contract


@contract(
    "registry.token.revoked",
    1,
    "registry",
    "An API token was revoked before its expiry: every service refuses it (deny list) until it expires.",
)
class TokenRevokedV1(_Data):
    jti = fields.String(required=True, validate=validate.Length(min=1, max=64))
    expires_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))
