"""Bearer tokens and role checks.

A token is a signed (itsdangerous, HMAC-SHA256), expiring claim ``{"role", "sub"}``; ``sub`` is
the producer id for producers. Every endpoint names the roles it admits; a producer only ever
sees its own records. ``python -m shared.auth ROLE [SUBJECT]`` issues a token.
"""

from __future__ import annotations

import functools
import hashlib
import sys

from flask import current_app, g, request
from flask_smorest import abort
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ROLES = ("registry_officer", "trade_officer", "producer", "integration", "admin")
TOKEN_SALT = "ocop-api-token"
TOKEN_MAX_AGE = 30 * 24 * 3600


def _serializer(secret: str, salt: str = TOKEN_SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def issue_token(secret: str, role: str, subject: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return _serializer(secret).dumps({"role": role, "sub": subject})


def read_token(secret: str, token: str) -> dict:
    return _serializer(secret).loads(token, max_age=TOKEN_MAX_AGE)


def require(*roles: str):
    """Decorator for views: 401 without a valid token, 403 for a role not admitted."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                abort(401, message="missing bearer token (Authorization: Bearer <token>)")
            try:
                claims = read_token(current_app.config["SECRET_KEY"], header[7:].strip())
            except SignatureExpired:
                abort(401, message="token expired")
            except BadSignature:
                abort(401, message="invalid token")
            if claims.get("role") not in roles and claims.get("role") != "admin":
                abort(403, message=f"role {claims.get('role')!r} may not do this; needs one of {', '.join(roles)}")
            g.principal = claims
            return view(*args, **kwargs)

        return inner

    return wrap


def own_producer_only(producer_id: str) -> None:
    """403 unless the caller is staff or the producer itself."""
    claims = g.principal
    if claims["role"] == "producer" and claims.get("sub") != producer_id:
        abort(403, message="a producer can only act on its own records")


if __name__ == "__main__":  # pragma: no cover - CLI
    import os

    if len(sys.argv) < 2:
        sys.exit(f"usage: python -m shared.auth ROLE [SUBJECT]; roles: {', '.join(ROLES)}")
    print(issue_token(os.environ.get("OCOP_SECRET_KEY", "dev-only-secret-change-me"), sys.argv[1],
                      sys.argv[2] if len(sys.argv) > 2 else None))
