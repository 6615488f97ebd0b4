"""The registry officer's console pages (HTML, under ``/console/``): thin views over the registry's
queries and operations, rendered in the shared console layout (shared/console). A plain Flask
blueprint, not a flask-smorest one: pages are not API operations and stay out of the OpenAPI
document."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, url_for
from jinja2 import TemplateNotFound

from shared import pages as page_headers

blp = Blueprint("registry_pages", __name__, url_prefix="/console", template_folder="../templates")
LAYOUT = "console/layout.html"


@blp.get("/")
def home():
    return redirect(url_for("registry_pages.products"))


def _shared_layout() -> bool:
    """Whether the shared console layout is installed (until it is, the pages' own minimal one)."""
    if "ocop_console_layout" not in current_app.extensions:
        try:
            current_app.jinja_env.loader.get_source(current_app.jinja_env, LAYOUT)
            found = True
        except TemplateNotFound:
            found = False
        current_app.extensions["ocop_console_layout"] = found
    return current_app.extensions["ocop_console_layout"]


def init(app: Flask) -> None:
    """Register the pages on the registry's app."""
    from . import imports, products  # noqa: F401 - their routes register on blp

    app.register_blueprint(blp)
    app.jinja_env.globals.setdefault("csrf_field", getattr(page_headers, "csrf_field", None) or _no_csrf_field)

    @app.context_processor
    def _layout():
        return {"console_layout": _shared_layout(), "nonce": page_headers.nonce}


def _no_csrf_field() -> str:
    return ""  # no issuer installed: access.page refuses every page, so no form is ever shown


@blp.after_request
def _headers(response):
    return response if _shared_layout() else page_headers.secure(response)
