"""Sign-in, sign-out and password reset pages (``/console/sign-in`` ...): the registry is the one
issuer of sessions (shared/sessions.py). The session cookie is HttpOnly, SameSite=Lax, Path=/ and
Secure when OCOP_PUBLIC_URL is https; signing out revokes the session's ``jti`` on every service's
deny list (``registry.token.revoked``). A sign-in form has no session to carry a CSRF claim, so its
POST is checked by origin (a browser's Sec-Fetch-Site / Origin: shared.pages.foreign_post)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from shared import pages, sessions, signing
from shared.console import render
from shared.instants import VIETNAM
from shared.web import runtime_of

from . import accounts
from .token_routes import revoke

blp = Blueprint("registry_accounts", __name__, url_prefix="/console")
HOME = "/registry/console/"
RESET_EVENT = "registry.account.password_reset_requested"


def _rt():
    return runtime_of(current_app)


def _safe_next(value: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return HOME
    return value


def _address() -> str:
    return request.remote_addr or "unknown"


def _foreign() -> bool:
    return pages.foreign_post(_rt().settings.public_base_url) is not None


def _local_time(moment: datetime | None) -> str:
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y") if moment else ""


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_ = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if sessions.current() is not None:
            return redirect(next_, 303)
        return render("accounts/sign_in.html", next=next_, values={}, errors={}, refused=None)
    if _foreign():
        return render(
            "accounts/sign_in.html",
            next=next_,
            values={},
            errors={},
            refused=_("The form did not come from this site."),
        ), 403
    email = request.form.get("email", "").strip()[:254]
    password = request.form.get("password", "")[: accounts.MAX_PASSWORD]
    errors = {}
    if not email:
        errors["email"] = [_("Enter your email.")]
    if not password:
        errors["password"] = [_("Enter your password.")]
    values = {"email": email}
    if errors:
        return render("accounts/sign_in.html", next=next_, values=values, errors=errors, refused=None), 400
    rt = _rt()
    with rt.transaction() as s:  # a refusal commits too: the failure counts
        try:
            user, refused = accounts.as_user(accounts.authenticate(s, email, password, _address())), None
        except accounts.SignInRefused as exc:
            user, refused = None, exc
    if refused is not None:
        return _refused(refused, next_, values)
    token = sessions.issue_session(signing.private_key(rt.settings), user)
    response = redirect(next_, 303)
    response.set_cookie(sessions.COOKIE, token, max_age=sessions.SESSION_TTL, **sessions.cookie_options(rt.settings))
    return response


def _refused(refused: accounts.SignInRefused, next_: str, values: dict):
    if refused.kind == "locked":
        message, status = (
            _("Too many failed attempts: this account is locked until %(time)s.", time=_local_time(refused.until)),
            429,
        )
    elif refused.kind == "throttled":
        message, status = (
            _("Too many failed attempts from this address: try again after %(time)s.", time=_local_time(refused.until)),
            429,
        )
    else:
        message, status = _("The email or the password is wrong."), 401
    errors = {"password": [message]}  # said once, beside the password
    return render("accounts/sign_in.html", next=next_, values=values, errors=errors, refused=None), status


@blp.post("/sign-out")
@sessions.page(*sessions.PEOPLE)
def sign_out():
    claims = g.principal
    rt = _rt()
    with rt.transaction() as s:
        revoke(s, rt.emit, claims["jti"], int(claims["exp"]), "signed out")
    flash(_("You have signed out."), "info")
    response = redirect(url_for("registry_accounts.sign_in"), 303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@blp.route("/password-reset", methods=["GET", "POST"])
def forgot():
    if request.method == "GET":
        return render("accounts/forgot.html", sent=False, values={}, errors={})
    if _foreign():
        return render("accounts/forgot.html", sent=False, values={}, errors={}), 403
    email = request.form.get("email", "").strip()[:254]
    if not email:
        return render("accounts/forgot.html", sent=False, values={}, errors={"email": [_("Enter your email.")]}), 400
    rt = _rt()
    with rt.transaction() as s:
        started = accounts.start_reset(s, email)
        if started is not None:
            account, token = started
            link = f"{rt.settings.public_base_url}{request.script_root}/console/password-reset/{token}"
            data = {
                "account_id": account.id,
                "email": account.email,
                "name": account.name,
                "link": link,
                "expires_at": account.reset_expires_at,
            }
            rt.emit(s, RESET_EVENT, account.id, 0, data)
    return render("accounts/forgot.html", sent=True, values={}, errors={})  # the same answer either way


@blp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    rt = _rt()
    with rt.session_factory() as s:
        valid = accounts.reset_account(s, token[:200]) is not None
    if request.method == "GET" or not valid:
        return render("accounts/reset.html", valid=valid, errors={}), (200 if valid else 410)
    if _foreign():
        return render("accounts/reset.html", valid=valid, errors={}), 403
    password = request.form.get("password", "")
    try:
        with rt.transaction() as s:
            account = accounts.reset_account(s, token[:200])
            if account is None:
                return render("accounts/reset.html", valid=False, errors={}), 410
            accounts.finish_reset(s, account, password)
    except accounts.AccountError:
        return render("accounts/reset.html", valid=True, errors={"password": [_("At least 12 characters.")]}), 400
    flash(_("Your password is changed: sign in with it."), "info")
    return redirect(url_for("registry_accounts.sign_in"), 303)


def init(app) -> None:
    app.register_blueprint(blp)
