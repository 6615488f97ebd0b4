"""Bearer tokens and role checks.

A token is a JWT (RFC 7519) signed EdDSA (Ed25519) with the issuer's private key, which only the
registry holds (``shared.signing``; every service verifies with the public key), carrying ``role``,
``sub`` (the person, account or integration; the producer id for producers), ``jti`` (a random id,
what a revocation names), ``iat`` and ``exp``. Every endpoint names the roles it admits; a producer
only ever sees its own records.

Why PyJWT rather than itsdangerous (which still signs the answer and calendar links): the claims
are the registered ones, and PyJWT itself enforces ``exp``, ``iat`` and the required claims, so no
hand-written expiry check; any integrator's JWT library reads them. Console sessions
(``shared.sessions``) are the same tokens with a few more claims (name, email, scope, csrf), read by
the same ``read_token``.

Lifetimes: people's tokens live ``OCOP_TOKEN_TTL_SECONDS`` (12 hours by default, at most 7 days);
an integration's may be issued explicitly for up to 90 days. A revoked token (its ``jti`` on the
service's deny list, ``shared.revocation``) is refused within a couple of seconds everywhere.

Endpoints that require a role are authenticated before anything reads the request body
(``authenticate_first``, the first body-reading hook of ``shared.web``): an anonymous request with a
large or malformed body gets 401 unread.

    python -m shared.auth ROLE SUBJECT [--ttl 12h|30d|SECONDS]   # prints a token (its jti on stderr)

works only where the private key is (the registry's settings: OCOP_TOKEN_PRIVATE_KEY, or the
embedded demo's generated pair).
"""

from __future__ import annotations

import argparse
import functools
import secrets
import sys
import time

import jwt
from flask import current_app, g, request
from flask_smorest import abort

from . import signing

ROLES = ("registry_officer", "trade_officer", "producer", "integration", "admin")
ALGORITHM = "EdDSA"
DEFAULT_TTL = 12 * 3600
MAX_TTL = 7 * 24 * 3600  # people
MAX_INTEGRATION_TTL = 90 * 24 * 3600
LEEWAY = 30  # seconds of clock difference between the issuer and a service
TTL_VARIABLE = "OCOP_TOKEN_TTL_SECONDS"


class TokenError(Exception):
    """A token that is not (or no longer) valid; the message says which."""


def max_ttl(role: str) -> int:
    return MAX_INTEGRATION_TTL if role == "integration" else MAX_TTL


def issue_token(
    private_key, role: str, subject: str, ttl: int | None = None, now: float | None = None, extra: dict | None = None
) -> str:
    """A token for ``subject`` acting as ``role``, valid ``ttl`` seconds (default: DEFAULT_TTL),
    signed with ``private_key`` (an Ed25519 key or its PEM); ``extra``: more claims (a session's)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if not subject or not isinstance(subject, str):
        raise ValueError("a token needs a subject: the person or integration (the producer id for a producer)")
    ttl = DEFAULT_TTL if ttl is None else int(ttl)
    if not 1 <= ttl <= max_ttl(role):
        raise ValueError(f"a {role} token lives at most {max_ttl(role)} seconds")
    iat = int(now if now is not None else time.time())
    claims = {**(extra or {}), "role": role, "sub": subject, "jti": secrets.token_hex(16), "iat": iat, "exp": iat + ttl}
    return jwt.encode(claims, private_key, algorithm=ALGORITHM)


def read_token(public_key, token: str, revoked=None) -> dict:
    """The one verify path: signature (``public_key``: the Ed25519 public key or its PEM), required
    claims, expiry, lifetime, and the deny list (``revoked``: a callable jti -> bool). Raises TokenError."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid token") from exc
    role = claims.get("role")
    if role not in ROLES or not isinstance(claims["jti"], str) or not claims["sub"]:
        raise TokenError("invalid token")
    if not isinstance(claims["exp"], int | float) or claims["exp"] - claims["iat"] > max_ttl(role):
        raise TokenError("invalid token: it lives longer than its role allows")
    if revoked is not None and revoked(claims["jti"]):
        raise TokenError("token revoked")
    return claims


def _authenticate() -> dict:
    """The caller's claims (401 without a valid token); once per request."""
    claims = g.get("principal")
    if claims is not None:
        return claims
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401, message="missing bearer token (Authorization: Bearer <token>)")
    from . import revocation

    runtime = current_app.extensions["ocop_runtime"]
    try:
        claims = read_token(signing.public_key(runtime.settings), header[7:].strip(), revocation.deny_list(current_app))
    except TokenError as exc:
        abort(401, message=str(exc))
    g.principal = claims
    return claims


def _admit(claims: dict, roles: tuple[str, ...]) -> None:
    if claims.get("role") not in roles and claims.get("role") != "admin":
        abort(403, message=f"role {claims.get('role')!r} may not do this; needs one of {', '.join(roles)}")


def require(*roles: str):
    """Decorator for views: 401 without a valid token, 403 for a role not admitted."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            _admit(_authenticate(), roles)
            return view(*args, **kwargs)

        inner.ocop_roles = roles  # read by authenticate_first (wraps copies it onto outer decorators)
        return inner

    return wrap


def authenticate_first():
    """before_request: for a view that requires a role, check the token (and the role) before any
    hook or argument parser reads the body."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    view_class = getattr(view, "view_class", None)
    name = "get" if request.method == "HEAD" else request.method.lower()  # MethodView answers HEAD with get
    method = getattr(view_class, name, None) if view_class else view
    roles = getattr(method, "ocop_roles", None)
    if roles is not None:
        _admit(_authenticate(), roles)


def own_producer_only(producer_id: str) -> None:
    """403 unless the caller is staff or the producer itself."""
    claims = g.principal
    if claims["role"] == "producer" and claims.get("sub") != producer_id:
        abort(403, message="a producer can only act on its own records")


def parse_ttl(text: str) -> int:
    """``3600``, ``90m``, ``12h`` or ``30d`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def main(argv: list[str]) -> int:  # pragma: no cover - exercised through a subprocess in the tests
    from . import config

    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="Print a bearer token.")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument(
        "subject",
        nargs="?",
        help="the person or integration (the producer id for a producer); optional only on the embedded demo",
    )
    parser.add_argument(
        "--ttl",
        type=parse_ttl,
        default=None,
        help=f"lifetime (3600, 90m, 12h, 30d); default {TTL_VARIABLE} or 12h; at most 7 days, "
        "90 days for an integration",
    )
    args = parser.parse_args(argv)
    settings = config.load("registry")
    try:
        config.require_secret(settings)
        key = signing.private_key(settings)
    except (config.InsecureSecret, signing.MissingKey) as exc:
        print(exc, file=sys.stderr)
        return 2
    subject = args.subject
    if not subject:
        if not settings.is_embedded_broker or args.role == "producer":
            parser.error("SUBJECT is required" + (" (the producer id)" if args.role == "producer" else ""))
        subject = f"demo-{args.role}"
    try:
        token = issue_token(key, args.role, subject, settings.token_ttl_seconds if args.ttl is None else args.ttl)
    except ValueError as exc:
        parser.error(str(exc))
    claims = jwt.decode(token, options={"verify_signature": False})
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"]))
    print(f"jti={claims['jti']} sub={subject} expires={expires}", file=sys.stderr)
    print(token)
    return 0


if __name__ == "__main__":  # pragma: no cover - CLI
    sys.exit(main(sys.argv[1:]))


# The console's guards (docs/console-api.md), defined with the sessions they read (shared.sessions).
def page(*roles: str):
    """Decorator for HTML views: the session cookie, the role, the CSRF check; sets g.user and g.principal."""
    from .sessions import page as guard

    return guard(*roles)


def actor() -> dict:
    """Who acts in this request, for audit logs and events: {"id", "name", "role"}."""
    from .audit import actor as acting

    return acting()
