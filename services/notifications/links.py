"""Signed, expiring, single-purpose response links (itsdangerous, HMAC-SHA256).

The token names the invitation, the producer and the purpose; it expires at the invitation's
deadline. Single use is enforced by the answers table (one answer per invitation). It is signed with
the answer-link key (``shared.keys``: derived from ``OCOP_SECRET_KEY`` for the notifications service,
or from ``OCOP_ANSWER_LINK_SECRET``), never the API tokens' key: a link cannot act as a token, nor a
token as a link. ``secret`` below is the master secret.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from shared import keys

SALT = "ocop-invitation-response"
PURPOSE = "respond-invitation"


class LinkError(Exception):
    def __init__(self, kind: str, claims: dict | None = None):
        super().__init__(kind)
        self.kind = kind  # tampered, expired, wrong_purpose
        self.claims = claims  # what a genuine but expired link says (its page speaks the producer's language)


@lru_cache(maxsize=8)
def _signer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def _serializer(secret: str) -> URLSafeSerializer:
    return _signer(keys.key("answer-link", secret))


def make_token(secret: str, invitation_id: str, producer_id: str, expires_at: datetime) -> str:
    return _serializer(secret).dumps(
        {"inv": invitation_id, "prod": producer_id, "purpose": PURPOSE, "exp": int(expires_at.timestamp())}
    )


def read_token(secret: str, token: str, now: datetime | None = None) -> dict:
    try:
        claims = _serializer(secret).loads(token)
    except BadSignature as exc:
        raise LinkError("tampered") from exc
    if not isinstance(claims, dict) or claims.get("purpose") != PURPOSE:
        raise LinkError("wrong_purpose")
    exp = claims.get("exp")
    if (
        not isinstance(exp, int | float)
        or isinstance(exp, bool)
        or not isinstance(claims.get("inv"), str)
        or not isinstance(claims.get("prod"), str)
    ):
        raise LinkError("tampered")  # genuinely signed but not a link this service makes: no expiry, no names
    if (now or datetime.now(UTC)).timestamp() > exp:
        raise LinkError("expired", claims)
    return claims
