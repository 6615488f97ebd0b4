"""Issue 13, one issuer: tokens and sessions signed Ed25519 by the registry alone, verified by every
service with the public key; the embedded default's generated pair; no start without the keys."""

from __future__ import annotations

import secrets
import time
from types import SimpleNamespace

import jwt
import pytest

from shared import auth, config, keys, signing

MASTER = secrets.token_urlsafe(48)
PRIVATE, PUBLIC = signing.new_pair()


def _claims(**over):
    now = int(time.time())
    return {"role": "admin", "sub": "someone", "jti": "j-1", "iat": now, "exp": now + 600, **over}


# ---- one issuer: Ed25519 (issue 13) --------------------------------------------------------------
def test_a_token_signed_by_another_key_or_with_hs256_over_the_public_key_is_refused():
    other, _ = signing.new_pair()
    with pytest.raises(auth.TokenError, match="invalid token"):
        auth.read_token(PUBLIC, auth.issue_token(other, "admin", "root"))
    # the classic confusion: HS256 with the (public) verification key as the HMAC secret
    with pytest.raises((auth.TokenError, jwt.InvalidKeyError)):
        auth.read_token(PUBLIC, jwt.encode(_claims(), PUBLIC.encode(), algorithm="HS256"))
    # an HS256 token signed with a key the services derive (the old scheme's way) is no longer accepted
    with pytest.raises(auth.TokenError):
        auth.read_token(PUBLIC, jwt.encode(_claims(), keys.key("session", MASTER), algorithm="HS256"))
    assert "api-token" not in keys.PURPOSES  # no shared secret signs tokens any more


def _settings(service, **over):
    base = {"service": service, "broker_url": "amqp://x@h/v", "token_private_key": "", "token_public_key": ""}
    return SimpleNamespace(**{**base, **over}, is_embedded_broker=False)


def test_only_the_registry_can_sign_and_every_service_verifies_with_the_public_key(monkeypatch, tmp_path):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCOP_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/x")
    monkeypatch.setenv("OCOP_TOKEN_PRIVATE_KEY", PRIVATE)
    monkeypatch.setenv("OCOP_TOKEN_PUBLIC_KEY", PUBLIC)
    registry, events, notifications = (config.load(s) for s in config.SERVICES)
    assert registry.token_private_key == PRIVATE.strip() and "PRIVATE" not in repr(registry)
    for verifier in (events, notifications):
        assert verifier.token_private_key == ""  # they never see the private key
        with pytest.raises(signing.MissingKey):
            signing.private_key(verifier)
        signing.require_keys(verifier)
    token = auth.issue_token(signing.private_key(registry), "trade_officer", "lan")
    assert auth.read_token(signing.public_key(events), token)["sub"] == "lan"
    # the key as a file path works too
    (tmp_path / "pub.pem").write_text(PUBLIC)
    assert auth.read_token(signing.public_key(_settings("events", token_public_key=str(tmp_path / "pub.pem"))), token)


def test_outside_the_embedded_default_a_service_without_its_keys_does_not_start():
    with pytest.raises(config.InsecureSecret, match="OCOP_TOKEN_PUBLIC_KEY"):
        signing.require_keys(_settings("events"))
    with pytest.raises(config.InsecureSecret, match="OCOP_TOKEN_PRIVATE_KEY"):
        signing.require_keys(_settings("registry", token_public_key=PUBLIC))
    with pytest.raises(config.InsecureSecret, match="Ed25519"):
        signing.require_keys(
            _settings("events", token_public_key="-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----")
        )
    signing.require_keys(_settings("registry", token_private_key=PRIVATE))  # the public key derived


def test_the_embedded_default_generates_one_pair_into_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    embedded = SimpleNamespace(service="registry", token_private_key="", token_public_key="", is_embedded_broker=True)
    key = signing.private_key(embedded)
    assert (tmp_path / signing.DEMO_PRIVATE_FILE).stat().st_mode & 0o077 == 0
    events = SimpleNamespace(service="events", token_private_key="", token_public_key="", is_embedded_broker=True)
    assert auth.read_token(signing.public_key(events), auth.issue_token(key, "admin", "root"))["sub"] == "root"
    assert signing.private_key(embedded).private_bytes_raw() == key.private_bytes_raw()  # once, then kept
    with pytest.raises(signing.MissingKey):
        signing.private_key(events)
