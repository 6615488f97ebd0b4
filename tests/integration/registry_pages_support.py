"""What the registry console's tests share: a registry app over the demo register, and who is signed
in: a real console session of the one issuer (``shared.sessions``; a key pair made for the test)."""

from __future__ import annotations

import dataclasses
import itertools
import os
from contextlib import contextmanager
from pathlib import Path

from support import TEST_SECRET, real_mode, reset_postgres

TEMPLATE = Path(__file__).parents[2] / "services" / "registry" / "reference" / "mau-nhap-quyet-dinh.csv"
VINH_LONG = {"id": "so-cong-thuong-vinh-long", "name": "Sở Công Thương Vĩnh Long"}
HA_NOI = {"id": "so-cong-thuong-ha-noi", "name": "Sở Công Thương Hà Nội"}


def account(scope=VINH_LONG, role="registry_officer") -> dict:
    return {
        "id": "acc-1",
        "name": "Lê Thị Hoa",
        "email": "hoa@example.vn",
        "role": role,
        "scope": scope["id"],
        "scope_name": scope["name"],
    }


_APPS: list = []
_DATABASES = itertools.count()


def session_token(scope=VINH_LONG, role="registry_officer") -> str:
    from shared import sessions, signing
    from shared.web import runtime_of

    return sessions.issue_session(signing.private_key(runtime_of(_APPS[-1]).settings), account(scope, role))


def signed_in(scope=VINH_LONG, role="registry_officer") -> dict:
    """Request headers of a person signed in (and a browser's same-origin form post)."""
    return {"Cookie": f"ocop_session={session_token(scope, role)}", "Sec-Fetch-Site": "same-origin"}


def csrf(headers: dict) -> dict:
    """The form field a signed-in person's forms carry (the session's csrf claim)."""
    import jwt

    cookie = headers.get("Cookie", "")
    return {"csrf": jwt.decode(cookie.split("=", 1)[1], options={"verify_signature": False})["csrf"]}


@contextmanager
def registry_app(tmp: Path):
    """A registry (SQLite in ``tmp``, PostgreSQL in real mode) holding the embedded default's demo register
    (Bến Tre's 200 products)."""
    from embedded import demo
    from services.registry.app import create_app
    from shared import signing
    from shared.config import load
    from shared.web import runtime_of

    if real_mode():  # a PostgreSQL database of its own (the search's trigram indexes, the real driver)
        name = f"ocop_pages{os.environ.get('OCOP_TEST_TAG', '')}_{next(_DATABASES)}_registry"
        url = reset_postgres(os.environ["OCOP_TEST_PG_URL"], [name])[name]
    else:
        url = f"sqlite:///{tmp / 'registry.sqlite'}"
    settings = dataclasses.replace(load("registry"), database_url=url, secret_key=TEST_SECRET)
    private, public = signing.new_pair()
    settings = dataclasses.replace(settings, token_private_key=private, token_public_key=public)
    app = create_app(settings=settings, migrate=True)
    _APPS.append(app)
    assert demo.load_registry(runtime_of(app)) is True
    try:
        yield app
    finally:
        runtime_of(app).engine.dispose()
