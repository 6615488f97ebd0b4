"""Security events: an API token revoked before its expiry (the deny list, ``shared.revocation``)."""

from __future__ import annotations

from marshmallow import fields, validate

from .registry import contract
from .vocabulary import _Data


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


@contract(
    "registry.account.password_reset_requested",
    1,
    "registry",
    "Someone asked to reset a console account's password: notifications emails the account its single-use "
    "link (it expires at `expires_at`; a newer request replaces it). Carries a credential: consumers other "
    "than notifications should ignore it.",
)
class PasswordResetRequestedV1(_Data):
    account_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    email = fields.Email(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    link = fields.Url(required=True, require_tld=False, validate=validate.Length(max=500))
    expires_at = fields.AwareDateTime(required=True)
