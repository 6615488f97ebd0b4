"""Registry app factory: gunicorn runs ``services.registry.app:create_app()``."""

from __future__ import annotations

from pathlib import Path

from shared.web import create_service_app

from . import pages
from .decision_routes import blp as decisions_blp
from .models import Inbox, Outbox
from .reference_routes import blp as reference_blp
from .routes import blp
from .token_routes import blp as tokens_blp

SERVICE_DIR = Path(__file__).parent


def create_app(settings=None, migrate: bool = False):
    app = create_service_app(
        "registry",
        SERVICE_DIR,
        Outbox,
        Inbox,
        [blp, decisions_blp, reference_blp, tokens_blp],
        "OCOP registry API",
        settings,
        migrate,
    )
    pages.init(app)  # the registry officer's console pages (HTML, not in the OpenAPI document)
    return app
