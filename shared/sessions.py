"""Console sessions: who is signed in to the pages, and the CSRF check of their forms.

A session is a token (``shared.auth.issue_token``: Ed25519, signed by the registry only) with the
account's ``name``, ``email``, ``scope`` (id), ``scope_name``, a random ``csrf`` claim and ``typ``
``session``; it travels in the cookie ``ocop_session`` (HttpOnly, SameSite=Lax, Path=/, Secure when
OCOP_PUBLIC_URL is https) and is read by ``shared.auth.read_token``, the one verify path, with the
public key and the deny list (signing out revokes its ``jti`` everywhere).

``page(*roles)`` guards an HTML view: no valid session, a redirect to the sign-in page with
``next=``; a role not admitted, a 403 page; a POST (any unsafe method) whose form field ``csrf``
differs from the session's claim, or whose Origin / Sec-Fetch-Site says another site, a 403 page.
It sets ``g.user`` (id, name, email, role, scope, scope_name) and ``g.principal`` (the claims).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import urlencode

from flask import current_app, g, redirect, request
from markupsafe import Markup, escape

from . import signing
from .audit import actor  # noqa: F401  (shared.auth.actor: who acts, for audit logs and events)
from .auth import ROLES, TokenError, issue_token, read_token

COOKIE = "ocop_session"
CSRF_FIELD = "csrf"
SESSION_TTL = 10 * 3600  # a working day
SIGN_IN = "/registry/console/sign-in"  # at the one origin (docs/console-api.md)
PEOPLE = ("registry_officer", "trade_officer", "admin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def issue_session(private_key, account: dict, ttl: int = SESSION_TTL) -> str:
    """A session token for ``account`` (id, name, email, role, scope, scope_name)."""
    if account["role"] not in PEOPLE:
        raise ValueError(f"no console session for the role {account['role']!r}")
    extra = {
        "typ": "session",
        "name": account["name"],
        "email": account["email"],
        "scope": account.get("scope") or "",
        "scope_name": account.get("scope_name") or "",
        "csrf": secrets.token_urlsafe(24),
    }
    return issue_token(private_key, account["role"], account["id"], ttl, extra=extra)


def read_session(token: str) -> dict:
    """The claims of a session cookie (TokenError when it is not a valid, unrevoked session)."""
    from . import revocation

    runtime = current_app.extensions["ocop_runtime"]
    claims = read_token(signing.public_key(runtime.settings), token, revocation.deny_list(current_app))
    if claims.get("typ") != "session" or not isinstance(claims.get("csrf"), str) or claims["role"] not in ROLES:
        raise TokenError("not a session")
    return claims


def cookie_options(settings) -> dict:
    """The session cookie's flags."""
    secure = getattr(settings, "public_base_url", "").startswith("https://")
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}


def user_of(claims: dict) -> dict:
    return {
        "id": claims["sub"],
        "name": claims.get("name") or claims["sub"],
        "email": claims.get("email") or "",
        "role": claims["role"],
        "scope": claims.get("scope") or "",
        "scope_name": claims.get("scope_name") or "",
    }


def current() -> dict | None:
    """The signed-in session's claims, or None (no cookie, expired, revoked, forged)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return read_session(token)
    except TokenError:
        return None


def sign_in_url() -> str:
    here = request.script_root + request.full_path.rstrip("?")
    return f"{SIGN_IN}?{urlencode({'next': here})}"


def _forbidden(message: str):
    from .pages import secure

    body = (
        '<!doctype html><html lang="vi"><meta charset="utf-8"><title>403</title>'
        f"<h1>Không được phép / Forbidden</h1><p>{escape(message)}</p>"
        f'<p><a href="{escape(SIGN_IN)}">Đăng nhập / Sign in</a></p></html>'
    )
    response = current_app.response_class(body, status=403, mimetype="text/html")
    return secure(response)


def same_origin() -> bool:
    """The browser says the request comes from a page of this origin (shared.pages.foreign_post)."""
    from .pages import foreign_post

    settings = current_app.extensions["ocop_runtime"].settings
    return foreign_post(getattr(settings, "public_base_url", "") or request.host_url) is None


def csrf_ok(claims: dict) -> bool:
    sent = request.form.get(CSRF_FIELD, "")
    return bool(sent) and hmac.compare_digest(sent, claims["csrf"]) and same_origin()


def page(*roles: str):
    """Decorator for HTML views (docs/console-api.md): session, role, CSRF; sets g.user, g.principal."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            claims = current()
            if claims is None:
                if request.method not in SAFE_METHODS:
                    return _forbidden("Phiên đăng nhập đã hết hạn. Your session has ended: sign in again.")
                return redirect(sign_in_url(), 303)
            if request.method not in SAFE_METHODS and not csrf_ok(claims):
                return _forbidden("Biểu mẫu không hợp lệ (CSRF). The form did not come from this site.")
            if claims["role"] not in roles and claims["role"] != "admin":
                return _forbidden("Tài khoản này không được mở trang này. This account may not open this page.")
            g.principal = claims
            g.user = user_of(claims)
            g.csrf = claims["csrf"]
            return view(*args, **kwargs)

        inner.ocop_page_roles = roles
        return inner

    return wrap


def csrf_field() -> Markup:
    """The hidden input carrying the session's csrf claim (also shared.console's Jinja global)."""
    claims = g.get("principal") or {}
    return Markup('<input type="hidden" name="%s" value="%s">') % (CSRF_FIELD, claims.get("csrf", ""))
