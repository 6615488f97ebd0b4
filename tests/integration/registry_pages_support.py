"""What the registry console's tests share: a registry app over the demo register, and who is signed
in: a real console session (``shared.sessions``, the one issuer's key pair made for the test) once
``shared.auth.page`` is installed; until then a test-only stand-in for it that takes the person from
a header."""

from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

import pytest
from flask import abort, g, request
from support import TEST_SECRET

import shared.auth

TEMPLATE = Path(__file__).parents[2] / "services" / "registry" / "reference" / "mau-nhap-quyet-dinh.csv"
VINH_LONG = {"id": "so-cong-thuong-vinh-long", "name": "Sở Công Thương Vĩnh Long"}
HA_NOI = {"id": "so-cong-thuong-ha-noi", "name": "Sở Công Thương Hà Nội"}


def standin_page(*roles):
    """Test-only stand-in for the contract's shared.auth.page (until the issuer lands): the person
    comes from a test header."""

    def decorate(view):
        @wraps(view)
        def inner(*args, **kwargs):
            user = json.loads(request.headers.get("X-Test-User") or "null")
            if user is None:
                abort(401)
            if user["role"] not in roles:
                abort(403)
            g.user, g.principal = user, {"sub": user["id"], "role": user["role"]}
            return view(*args, **kwargs)

        return inner

    return decorate


def real_sessions() -> bool:
    return hasattr(shared.auth, "page") and shared.auth.page is not standin_page


def account(scope=VINH_LONG, role="registry_officer") -> dict:
    return {
        "id": "acc-1",
        "name": "Lê Thị Hoa",
        "email": "hoa@example.vn",
        "role": role,
        "scope": scope["id"],
        "scope_name": scope["name"],
    }


def person(scope=VINH_LONG, role="registry_officer") -> str:
    """The stand-in's header value."""
    return json.dumps(account(scope, role))


_APPS: list = []


def session_token(scope=VINH_LONG, role="registry_officer") -> str:
    from shared import sessions, signing
    from shared.web import runtime_of

    return sessions.issue_session(signing.private_key(runtime_of(_APPS[-1]).settings), account(scope, role))


def signed_in(scope=VINH_LONG, role="registry_officer") -> dict:
    """Request headers of a person signed in (and a browser's same-origin form post)."""
    if real_sessions():
        return {"Cookie": f"ocop_session={session_token(scope, role)}", "Sec-Fetch-Site": "same-origin"}
    return {"X-Test-User": person(scope, role), "Sec-Fetch-Site": "same-origin"}


def csrf(headers: dict) -> dict:
    """The form field a signed-in person's forms carry (the session's csrf claim)."""
    cookie = headers.get("Cookie", "")
    if not cookie:
        return {}
    import jwt

    return {"csrf": jwt.decode(cookie.split("=", 1)[1], options={"verify_signature": False})["csrf"]}


@contextmanager
def registry_app(tmp: Path):
    """A registry (SQLite in ``tmp``) holding the embedded default's demo register (Bến Tre's 200 products)."""
    from embedded import demo
    from services.registry.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    patch = pytest.MonkeyPatch()
    if not hasattr(shared.auth, "page"):
        patch.setattr(shared.auth, "page", standin_page, raising=False)
    settings = dataclasses.replace(
        load("registry"), database_url=f"sqlite:///{tmp / 'registry.sqlite'}", secret_key=TEST_SECRET
    )
    if real_sessions():
        from shared import signing

        private, public = signing.new_pair()
        settings = dataclasses.replace(settings, token_private_key=private, token_public_key=public)
    app = create_app(settings=settings, migrate=True)
    _APPS.append(app)
    assert demo.load_registry(runtime_of(app)) is True
    try:
        yield app
    finally:
        runtime_of(app).engine.dispose()
        patch.undo()
