"""The administrator's pages (``/console/accounts``, ``/console/audit``): the accounts (create one,
disable or enable it, lift a lock-out) and the registry's audit log, paged. Every form carries the
session's CSRF field (``shared.auth.page``)."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from shared import audit
from shared.auth import page
from shared.console import render
from shared.web import runtime_of

from . import accounts
from .models import Account, AuditEntry

blp = Blueprint("registry_admin", __name__, url_prefix="/console")
PER_PAGE = 50
ROLE_NAMES = {"registry_officer": "Registry officer", "trade_officer": "Trade officer", "admin": "Administrator"}


def _rt():
    return runtime_of(current_app)


def _accounts_page(values: dict, errors: dict, status: int = 200):
    with _rt().session_factory() as s:
        rows = s.scalars(select(Account).order_by(Account.role, Account.email)).all()
        listed = [
            {
                "id": a.id,
                "name": a.name,
                "email": a.email,
                "role": _(ROLE_NAMES[a.role]) if a.role in ROLE_NAMES else a.role,
                "scope": a.scope_name or a.scope_id or "—",
                "disabled": a.disabled,
                "locked_until": a.locked_until,
                "last_sign_in_at": a.last_sign_in_at,
            }
            for a in rows
        ]
    roles = [(r, _(n)) for r, n in ROLE_NAMES.items()]
    return render("accounts/admin.html", accounts=listed, roles=roles, values=values, errors=errors), status


@blp.get("/accounts")
@page("admin")
def account_list():
    return _accounts_page({"role": "registry_officer"}, {})


@blp.post("/accounts")
@page("admin")
def account_create():
    form = {k: request.form.get(k, "").strip()[:254] for k in ("email", "name", "role", "scope_id", "scope_name")}
    password = request.form.get("password", "")[: accounts.MAX_PASSWORD]
    try:
        with _rt().transaction() as s:
            accounts.create(s, password=password, **form)
    except accounts.AccountError as exc:
        return _accounts_page(form, {k: [_(m) for m in v] for k, v in exc.errors.items()}, 400)
    flash(_("The account %(email)s is created.", email=form["email"].lower()), "info")
    return redirect(url_for("registry_admin.account_list"), 303)


@blp.post("/accounts/<account_id>/status")
@page("admin")
def account_status(account_id: str):
    action = request.form.get("action", "")
    with _rt().transaction() as s:
        account = s.get(Account, account_id[:36])
        if account is None or action not in ("disable", "enable", "unlock"):
            return redirect(url_for("registry_admin.account_list"), 303)
        if action == "unlock":
            account.locked_until, account.failed_attempts = None, 0
        else:
            account.disabled = action == "disable"
        audit.record(s, AuditEntry, f"account.{action}d".replace("unlockd", "unlocked"), account.id)
    return redirect(url_for("registry_admin.account_list"), 303)


@blp.get("/audit")
@page("admin")
def audit_log():
    try:
        number = max(1, min(10_000, int(request.args.get("page", "1"))))
    except ValueError:
        number = 1
    actor = request.args.get("actor", "").strip()[:100]
    args = {"actor": actor or None, "page": number, "per_page": PER_PAGE}
    with _rt().session_factory() as s:
        found = audit.query(s, AuditEntry, args)
    pages = max(1, math.ceil(found["total"] / PER_PAGE))

    def link(n: int) -> str:
        return url_for("registry_admin.audit_log", page=n, **({"actor": actor} if actor else {}))

    return render("accounts/audit.html", entries=found["items"], page=number, pages=pages, link=link, actor=actor)


def init(app) -> None:
    app.register_blueprint(blp)
