"""What the registry console's tests share: a registry app over the demo register, and (until the
issuer's ``shared.auth.page`` lands) a test-only stand-in for it that takes the person from a header."""

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


def person(scope=VINH_LONG, role="registry_officer") -> str:
    return json.dumps({"id": "acc-1", "name": "Lê Thị Hoa", "email": "hoa@example.vn", "role": role, "scope": scope})


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
    app = create_app(settings=settings, migrate=True)
    assert demo.load_registry(runtime_of(app)) is True
    try:
        yield app
    finally:
        runtime_of(app).engine.dispose()
        patch.undo()
