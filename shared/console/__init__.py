"""The console's shared layout: one look, navigation and language for the pages of all three services.

``init(app, service)`` (called by ``shared.web.create_service_app``, so every service has it):

- templates: the service's own ``templates/`` first, then this package's (``console/layout.html`` and
  the macros ``console/forms.html``, ``console/tables.html``, ``console/charts.html``), through a
  ``ChoiceLoader``, so a service may override a shared template by name;
- ``/console/static/<path>``: ``console.css`` (no external fonts, no build step, no script needed);
- Flask-Babel with Vietnamese by default: ``?lang=en`` (or ``vi``) switches and is remembered in the
  ``ocop_lang`` cookie; catalogues: this package's ``translations/`` for the shared strings, then the
  service's own ``translations/`` if it has one;
- filters ``date`` / ``datetime`` (dd/mm/yyyy in Vietnam time) and ``money`` ("12.000.000 ₫");
- ``X-Forwarded-Prefix`` / ``-Proto`` of the one proxy in front (nginx) read by werkzeug's ProxyFix;
- the page security headers of ``shared/pages.py`` on every HTML response that has not set its own
  (the console's CSP allows no script at all and styles only from ``/console/static``);
- the Jinja globals ``csrf_field()`` (the hidden input carrying the session's csrf claim) and
  ``nav()`` (the signed-in person's navigation, by role).

``render(template, **ctx)`` renders a console page (``{% extends "console/layout.html" %}``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from flask import Flask, g, render_template, request, send_from_directory
from flask_babel import Babel, get_locale
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import pages
from ..instants import VIETNAM, utc
from . import i18n
from .navigation import SIGN_OUT, nav

HERE = Path(__file__).parent
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "ocop_lang"
PRODUCT = "OCOP Xúc tiến thương mại"


def select_language() -> str:
    """``?lang=`` if it names a language we have, else the cookie, else Vietnamese."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE, "")
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


def _remember_language(response):
    asked = request.args.get("lang", "")
    if asked in LANGUAGES and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def _secure(response):
    """The page headers on HTML responses that have not set their own policy (the answer page has)."""
    if "Content-Security-Policy" in response.headers:
        return response
    return pages.secure(response, **g.get("csp", {}))


def format_date(value) -> str:
    """dd/mm/yyyy; an instant is shown on its Vietnam date."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = utc(value).astimezone(VIETNAM)
    return value.strftime("%d/%m/%Y")


def format_datetime(value) -> str:
    """dd/mm/yyyy HH:MM in Vietnam time (a naive instant is UTC, as every service stores it)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return utc(value).astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def format_money(value) -> str:
    """An amount in đồng, whole, with dots between thousands: ``12.000.000 ₫``."""
    if value is None or value == "":
        return ""
    amount = int(Decimal(str(value)).quantize(Decimal(1)))
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,} ₫".replace(",", ".")


def csrf_token() -> str:
    """The signed-in session's csrf claim (set on ``g`` by ``shared.auth.page``), or '' with none."""
    for name in ("csrf", "csrf_token"):
        value = g.get(name)
        if isinstance(value, str) and value:
            return value
    principal = g.get("principal")
    for holder in (principal, g.get("session_claims")):
        if isinstance(holder, dict) and isinstance(holder.get("csrf"), str):
            return holder["csrf"]
        value = getattr(holder, "csrf", None)
        if isinstance(value, str):
            return value
    return ""


def csrf_field() -> Markup:
    """The hidden input every console form carries (checked by ``shared.auth.page`` on POST)."""
    return Markup('<input type="hidden" name="csrf" value="%s">') % escape(csrf_token())


def render(template: str, **ctx) -> str:
    """A console page: ``template`` extends ``console/layout.html``."""
    return render_template(template, **ctx)


def init(app: Flask, service: str) -> None:
    """Give ``app`` (the service ``service``) the console layout, language and page headers."""
    # Behind nginx (deploy/nginx/ocop.conf) the prefix a service is mounted at comes as X-Forwarded-Prefix
    # and the scheme as X-Forwarded-Proto (one proxy); the embedded origin sets SCRIPT_NAME itself.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=0, x_port=0, x_prefix=1)
    own = app.create_global_jinja_loader()
    app.jinja_env.loader = ChoiceLoader([own, FileSystemLoader(str(HERE / "templates"))])
    dirs = i18n.directories(app.root_path)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in dirs)
    babel = Babel(app, locale_selector=select_language)
    babel.domain_instance = i18n.PoDomain(dirs)
    app.add_url_rule(
        "/console/static/<path:filename>",
        endpoint="console_static",
        view_func=lambda filename: send_from_directory(HERE / "static", filename, max_age=3600),
    )
    app.jinja_env.filters.update(date=format_date, datetime=format_datetime, money=format_money)
    app.jinja_env.globals.update(
        csrf_field=csrf_field,
        nav=nav,
        product=PRODUCT,
        service=service,
        sign_out=SIGN_OUT,
        languages=LANGUAGES,
        lang=lambda: str(get_locale() or DEFAULT_LANGUAGE),
    )
    app.after_request(_remember_language)
    app.after_request(_secure)
