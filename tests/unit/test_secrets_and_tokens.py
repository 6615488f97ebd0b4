"""Issue 10, secrets and identity: no published secret outside the embedded demo, one key per
purpose, tokens with an id, a subject and a short life, link claims that cannot give a 500, and no
credential in a log line."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jwt
import pytest
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

from services.events.outputs import calendars
from services.notifications import links
from shared import auth, config, keys, logs, signing

MASTER = secrets.token_urlsafe(48)
PRIVATE, PUBLIC = signing.new_pair()  # the issuer's key pair (shared/signing.py)


# ---- the master secret ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "weak",
    [
        "",
        "dev-only-secret-change-me",
        "change-me-in-production",
        "test-secret",
        "short-but-random-9f3a",
        "a" * 64,
        "ab" * 40,
    ],
)
def test_weak_or_published_secrets_refused_outside_embedded(monkeypatch, weak):
    monkeypatch.setenv("OCOP_BROKER_URL", "amqp://u:p@127.0.0.1:5672/ocop")
    monkeypatch.setenv("OCOP_SECRET_KEY", weak)
    settings = config.load("registry")
    with pytest.raises(config.InsecureSecret) as refused:
        config.require_secret(settings)
    message = str(refused.value)
    assert "OCOP_SECRET_KEY" in message and "secrets.token_urlsafe(48)" in message


def test_strong_secret_accepted_and_overrides_checked_too(monkeypatch):
    monkeypatch.setenv("OCOP_BROKER_URL", "amqp://u:p@127.0.0.1:5672/ocop")
    monkeypatch.setenv("OCOP_SECRET_KEY", MASTER)
    config.require_secret(config.load("events"))
    monkeypatch.setenv("OCOP_CALENDAR_SECRET", "rotated")
    with pytest.raises(config.InsecureSecret, match="OCOP_CALENDAR_SECRET"):
        config.require_secret(config.load("events"))


def test_embedded_demo_needs_no_variable_and_keeps_its_generated_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("OCOP_SECRET_KEY", raising=False)
    monkeypatch.delenv("OCOP_BROKER_URL", raising=False)
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    first = config.load("registry")
    config.require_secret(first)
    assert config.secret_problem(first.secret_key) is None  # generated, not a published value
    assert config.load("notifications").secret_key == first.secret_key  # one per data dir, kept
    assert (tmp_path / config.DEMO_SECRET_FILE).stat().st_mode & 0o077 == 0
    assert first.secret_key not in repr(first)


# ---- keys per purpose -----------------------------------------------------------------------------
def test_each_purpose_has_its_own_key_and_an_override_changes_only_its_own(monkeypatch, tmp_path):
    derived = {p: keys.key(p, MASTER) for p in keys.PURPOSES}
    assert len(set(derived.values())) == len(keys.PURPOSES) and MASTER.encode() not in derived.values()
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCOP_SECRET_KEY", MASTER)
    monkeypatch.setenv("OCOP_CALENDAR_SECRET", secrets.token_urlsafe(48))
    settings = config.load("events")  # the overrides are settings, read when a process starts
    assert settings.key_overrides == {"calendar-link": os.environ["OCOP_CALENDAR_SECRET"]}
    assert os.environ["OCOP_CALENDAR_SECRET"] not in repr(settings)
    assert keys.key("calendar-link", settings.key_material("calendar-link")) != derived["calendar-link"]
    assert keys.key("answer-link", settings.key_material("answer-link")) == derived["answer-link"]
    assert keys.key("session", settings.key_material("session")) == derived["session"]


def _claims(**over):
    now = int(time.time())
    return {"role": "admin", "sub": "someone", "jti": "j-1", "iat": now, "exp": now + 600, **over}


def test_an_answer_link_key_cannot_sign_an_api_token_nor_the_reverse():
    forged = jwt.encode(_claims(), keys.key("answer-link", MASTER), algorithm="HS256")
    with pytest.raises(auth.TokenError, match="invalid token"):
        auth.read_token(PUBLIC, forged)
    forged = jwt.encode(_claims(), keys.key("calendar-link", MASTER), algorithm="HS256")
    with pytest.raises(auth.TokenError, match="invalid token"):
        auth.read_token(PUBLIC, forged)
    # a link signed with the calendar-link key (the same serializer otherwise) is not an answer link
    deadline = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    as_api = URLSafeSerializer(
        keys.key("calendar-link", MASTER), salt=links.SALT, signer_kwargs={"digest_method": links.hashlib.sha256}
    )
    with pytest.raises(links.LinkError) as refused:
        links.read_token(MASTER, as_api.dumps({"inv": "i", "prod": "p", "purpose": links.PURPOSE, "exp": deadline}))
    assert refused.value.kind == "tampered"
    # nor an answer link a calendar link, nor a calendar link an answer link
    answer = links.make_token(MASTER, "i", "p", datetime.now(UTC) + timedelta(days=3))
    assert calendars.feed_producer(MASTER, answer) is None
    with pytest.raises(links.LinkError):
        links.read_token(MASTER, calendars.feed_token(MASTER, "p"))
    # and the master secret itself signs nothing
    with pytest.raises(auth.TokenError):
        auth.read_token(PUBLIC, jwt.encode(_claims(), MASTER, algorithm="HS256"))


def test_old_itsdangerous_tokens_are_refused():
    old = URLSafeTimedSerializer(MASTER, salt="ocop-api-token").dumps({"role": "admin", "sub": None})
    with pytest.raises(auth.TokenError):
        auth.read_token(PUBLIC, old)


# ---- tokens ---------------------------------------------------------------------------------------
def test_a_token_carries_id_subject_and_a_short_life(monkeypatch, tmp_path):
    monkeypatch.delenv("OCOP_TOKEN_TTL_SECONDS", raising=False)
    claims = auth.read_token(PUBLIC, auth.issue_token(PRIVATE, "trade_officer", "lan.nguyen"))
    assert claims["role"] == "trade_officer" and claims["sub"] == "lan.nguyen"
    assert claims["exp"] - claims["iat"] == 12 * 3600 and len(claims["jti"]) >= 16
    other = auth.read_token(PUBLIC, auth.issue_token(PRIVATE, "trade_officer", "lan.nguyen"))
    assert other["jti"] != claims["jti"]
    monkeypatch.setenv("OCOP_DATA_DIR", str(tmp_path))
    assert config.load("registry").token_ttl_seconds == 12 * 3600
    monkeypatch.setenv("OCOP_TOKEN_TTL_SECONDS", "900")  # python -m shared.auth's lifetime: a setting
    ttl = config.load("registry").token_ttl_seconds
    claims = auth.read_token(PUBLIC, auth.issue_token(PRIVATE, "registry_officer", "minh", ttl))
    assert claims["exp"] - claims["iat"] == 900
    monkeypatch.setenv("OCOP_TOKEN_TTL_SECONDS", str(30 * 24 * 3600))
    with pytest.raises(ValueError, match="OCOP_TOKEN_TTL_SECONDS"):
        config.load("registry")


def test_lifetimes_are_bounded_per_role():
    with pytest.raises(ValueError):
        auth.issue_token(PRIVATE, "admin", "root", ttl=8 * 24 * 3600)
    claims = auth.read_token(PUBLIC, auth.issue_token(PRIVATE, "integration", "erp-ben-tre", ttl=90 * 24 * 3600))
    assert claims["exp"] - claims["iat"] == 90 * 24 * 3600
    with pytest.raises(ValueError):
        auth.issue_token(PRIVATE, "integration", "erp-ben-tre", ttl=91 * 24 * 3600)
    # a token claiming a longer life than its role allows is refused even when correctly signed
    key = signing._load_private(PRIVATE.encode())
    long_lived = _claims(role="trade_officer", exp=int(time.time()) + 30 * 86400)
    with pytest.raises(auth.TokenError, match="longer"):
        auth.read_token(PUBLIC, jwt.encode(long_lived, key, algorithm="EdDSA"))


def test_expiry_is_enforced_and_claims_are_required():
    expired = auth.issue_token(PRIVATE, "admin", "root", ttl=60, now=time.time() - 3600)
    with pytest.raises(auth.TokenError, match="expired"):
        auth.read_token(PUBLIC, expired)
    key = signing._load_private(PRIVATE.encode())
    for missing in ("sub", "jti", "exp", "iat"):
        claims = _claims()
        del claims[missing]
        with pytest.raises(auth.TokenError):
            auth.read_token(PUBLIC, jwt.encode(claims, key, algorithm="EdDSA"))
    with pytest.raises(auth.TokenError):
        auth.read_token(PUBLIC, jwt.encode(_claims(role="root"), key, algorithm="EdDSA"))
    with pytest.raises(auth.TokenError):  # "none" algorithm
        auth.read_token(PUBLIC, jwt.encode(_claims(), None, algorithm="none"))
    with pytest.raises(ValueError):
        auth.issue_token(PRIVATE, "trade_officer", None)


def test_a_revoked_token_is_refused():
    token = auth.issue_token(PRIVATE, "admin", "root")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert auth.read_token(PUBLIC, token, revoked=lambda j: False)["jti"] == jti
    with pytest.raises(auth.TokenError, match="revoked"):
        auth.read_token(PUBLIC, token, revoked=lambda j: j == jti)


# ---- answer links: claims without exp (fuzzer: a 500) --------------------------------------------
@pytest.mark.parametrize(
    "claims",
    [
        {"inv": "i", "prod": "p", "purpose": links.PURPOSE},
        {"inv": "i", "prod": "p", "purpose": links.PURPOSE, "exp": "tomorrow"},
        {"inv": "i", "prod": "p", "purpose": links.PURPOSE, "exp": None},
        {"inv": ["i"], "prod": "p", "purpose": links.PURPOSE, "exp": 4102444800},
        {"purpose": links.PURPOSE, "exp": 4102444800},
    ],
)
def test_link_claims_without_a_usable_exp_are_refused_not_a_crash(claims):
    token = links._serializer(MASTER).dumps(claims)
    with pytest.raises(links.LinkError) as refused:
        links.read_token(MASTER, token)
    assert refused.value.kind == "tampered"


# ---- logs -----------------------------------------------------------------------------------------
def test_redact_hides_link_tokens_short_codes_and_token_queries():
    line = (
        "GET /r/eyJpbnYiOiJ4In0.abc-DEF_1 HTTP/1.1 /r/s/Zq81kLm0 "
        "/calendars/producers/p-1.ics?lang=vi&token=eyJwIjoxfQ.sig&x=1"
    )
    clean = logs.redact(line)
    for secret in ("eyJpbnYiOiJ4In0.abc-DEF_1", "Zq81kLm0", "eyJwIjoxfQ.sig"):
        assert secret not in clean
    assert clean.count(logs.REDACTED) == 3 and "lang=vi" in clean and "x=1" in clean
    assert logs.redact("GET /products?q=keo HTTP/1.1") == "GET /products?q=keo HTTP/1.1"


def test_app_log_records_are_redacted(monkeypatch, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], getattr(root, "_ocop_configured", False), root.level
    root._ocop_configured = False
    try:
        logs.setup("test")
        logging.getLogger("werkzeug").warning('%s - - "%s" 200', "127.0.0.1", "GET /r/SECRET-LINK-TOKEN HTTP/1.1")
        logging.getLogger("ocop.test").warning("fetched", extra={"url": "https://x/feed.ics?token=SECRET-FEED"})
    finally:
        root.handlers[:], root._ocop_configured = saved[0], saved[1]
        root.setLevel(saved[2])
    err = capsys.readouterr().err
    assert "SECRET-LINK-TOKEN" not in err and "SECRET-FEED" not in err and err.count(logs.REDACTED) == 2


def test_gunicorn_access_atoms_are_redacted():
    from gunicorn.config import Config

    logger = logs.GunicornLogger(Config())
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/r/LINK-SECRET?lang=en",
        "PATH_INFO": "/r/LINK-SECRET",
        "QUERY_STRING": "token=FEED-SECRET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://ocop.example/r/LINK-SECRET",
        "HTTP_AUTHORIZATION": "Bearer API-SECRET",
    }
    req = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer API-SECRET"), ("REFERER", environ["HTTP_REFERER"])])
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10)
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=3))
    assert "SECRET" not in " ".join(str(v) for v in atoms.values())
    assert atoms["r"] == f"POST /r/{logs.REDACTED}?lang=en HTTP/1.1"


def test_settings_repr_hides_the_secret():
    settings = dataclasses.replace(config.load("registry"), secret_key=MASTER)
    assert MASTER not in repr(settings)


# ---- the deny list --------------------------------------------------------------------------------
def test_deny_list_reloads_at_most_every_interval_and_prunes_expired_rows(tmp_path):
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import sessionmaker

    from services.events.models import Base, RevokedToken
    from shared import revocation

    engine = create_engine(f"sqlite:///{tmp_path / 'deny.sqlite'}")
    Base.metadata.create_all(engine, tables=[RevokedToken.__table__])
    sessions = sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        assert revocation.record(s, RevokedToken, "old", now - timedelta(hours=1), "expired long ago")
        assert revocation.record(s, RevokedToken, "live", now + timedelta(hours=1), "stolen")
        assert not revocation.record(s, RevokedToken, "live", now + timedelta(hours=1), "again")
    deny = revocation.DenyList(sessions, RevokedToken.__table__, refresh_seconds=3600)
    assert deny("live") and not deny("old") and not deny("other")
    with sessions.begin() as s:
        revocation.record(s, RevokedToken, "later", now + timedelta(hours=1), "stolen too")
        assert set(s.scalars(select(RevokedToken.jti))) == {"live", "later"}  # "old" pruned
    assert not deny("later")  # not reloaded within the interval: one query a second at most
    deny.refresh_seconds = 0
    assert deny("later")
    engine.dispose()
