"""Who may open a page, and which records an officer's scope owns.

``page(*roles)`` is the one issuer's session guard (docs/console-api.md's ``shared.auth.page``,
implemented as ``shared.sessions.page``): session, role, CSRF and same-origin on every POST; it sets
``g.user`` and ``g.principal``. A registry officer's scope is a province's department: it sees and
changes the records of that province (as the register places them now); an administrator and a
national officer (a scope naming no province) see every province."""

from __future__ import annotations

from flask import g

import shared.auth as shared_auth
from shared import reference, sessions
from shared.text import fold


def page(*roles: str):
    guard = getattr(shared_auth, "page", None) or sessions.page
    return guard(*roles)


def _scope_text(scope) -> str:
    if isinstance(scope, dict):
        return " ".join(str(scope.get(k) or "") for k in ("province", "id", "name"))
    return str(scope or "")


def officer_province() -> str | None:
    """The current province whose records the signed-in person may see; None: every province."""
    user = getattr(g, "user", None) or {}
    if user.get("role") == "admin":
        return None
    scope = user.get("scope")
    if isinstance(scope, dict) and scope.get("province"):
        return reference.resolve_province(scope["province"]).name
    words = fold(f"{_scope_text(scope)} {user.get('scope_name') or ''}").replace("-", " ").replace("_", " ")
    words = f" {' '.join(words.split())} "
    best = None
    for name in reference.current_provinces():
        if f" {fold(name)} " in words and (best is None or len(name) > len(best)):
            best = name
    return best


def owns(province: str) -> bool:
    mine = officer_province()
    return mine is None or mine == province
