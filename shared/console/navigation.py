"""The console's navigation by role: links across services by their one-origin paths
(``/registry/...``, ``/events/...``; docs/console.md). Labels are msgids of the shared catalogue."""

from __future__ import annotations

from flask import g
from flask_babel import gettext

SIGN_OUT = "/registry/console/sign-out"
HOME = "/registry/console/"

NAV = {
    "registry_officer": (
        ("Producers & products", "/registry/console/products"),
        ("Decisions", "/registry/console/decisions"),
        ("Import", "/registry/console/imports"),
        ("Progress", "/registry/console/progress"),
    ),
    "trade_officer": (
        ("Fairs", "/events/console/fairs"),
        ("Season plan", "/events/console/season"),
        ("Figures", "/events/console/figures"),
    ),
    "admin": (
        ("Accounts", "/registry/console/accounts"),
        ("Audit log", "/registry/console/audit"),
    ),
}


def user() -> dict | None:
    """The signed-in person (``g.user``, set by ``shared.auth.page``), or None."""
    value = g.get("user")
    return value if isinstance(value, dict) else None


def nav(role: str | None = None) -> list[tuple[str, str]]:
    """(label, path) of the signed-in person's role (or ``role``), translated."""
    if role is None:
        role = (user() or {}).get("role")
    return [(gettext(label), path) for label, path in NAV.get(role or "", ())]
