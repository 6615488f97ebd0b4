"""The console's home page: the signed-in person's main tasks as big links (the same places as the
navigation, with a line saying what each is for). The registry serves it at ``/registry/console/``
(the one origin's ``/`` leads there); a role without tasks (a producer, issue 14) gets a short page."""

from __future__ import annotations

from flask import g
from flask_babel import gettext

from .navigation import NAV

# what each task is for, by its path (msgids of the shared catalogue)
ABOUT = {
    "/registry/console/products": "Search producers and products, create and edit them.",
    "/registry/console/decisions": "Record certification decisions, revoke, see certificates expiring soon.",
    "/registry/console/imports": "Upload a CSV or XLSX file, check it row by row, apply it.",
    "/registry/console/progress": "The year's progress against the targets, as charts.",
    "/events/console/fairs": "Fairs, their rules, matching, invitations and the live board.",
    "/events/console/season": "Choose fairs, preview the plan across regions, apply it.",
    "/events/console/figures": "Fill rate, subsidy against budget, fairness.",
    "/registry/console/accounts": "Officers' accounts: create, lock, reset.",
    "/registry/console/audit": "Who did what, and when.",
}


def tasks(role: str | None) -> list[dict]:
    """The role's tasks: label, path and what it is for, translated."""
    return [
        {"label": gettext(label), "path": path, "about": gettext(ABOUT[path]) if path in ABOUT else ""}
        for label, path in NAV.get(role or "", ())
    ]


def home():
    """The home page of the signed-in person (a view's body, behind ``shared.sessions.page``)."""
    from . import render

    user = g.get("user") or {}
    return render("console/home.html", title=gettext("Console"), tasks=tasks(user.get("role")))
