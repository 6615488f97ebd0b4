"""The registry officer's console pages (HTML, under ``/console/``): thin views over the registry's
queries and operations, rendered in the shared console layout (shared/console). A plain Flask
blueprint, not a flask-smorest one: pages are not API operations and stay out of the OpenAPI
document."""

from __future__ import annotations

from flask import Blueprint, Flask

from shared import sessions
from shared.console import home as console_home

blp = Blueprint("registry_pages", __name__, url_prefix="/console", template_folder="../templates")


@blp.get("/")
@sessions.page("registry_officer", "trade_officer")
def home():
    """The signed-in person's home: the role's main tasks as big links (shared/console/home.py)."""
    return console_home.home()


def init(app: Flask) -> None:
    """Register the pages on the registry's app (the layout is shared/console's, set up by create_service_app)."""
    from . import create, decisions, imports, products, progress  # noqa: F401 - their routes register on blp

    app.register_blueprint(blp)
