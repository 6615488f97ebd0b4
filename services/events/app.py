"""Events app factory: gunicorn runs ``services.events.app:create_app()``."""

from __future__ import annotations

from pathlib import Path

from shared import audit
from shared.web import create_service_app

from . import pages
from .models import AuditEntry, Inbox, Outbox
from .outputs.routes import blp as outputs_blp
from .routes import blp
from .season.routes import blp as season_blp

SERVICE_DIR = Path(__file__).parent


def create_app(settings=None, migrate: bool = False):
    app = create_service_app(
        "events",
        SERVICE_DIR,
        Outbox,
        Inbox,
        [blp, outputs_blp, season_blp, audit.blueprint(AuditEntry, "events")],
        "OCOP fairs and invitations API",
        settings,
        migrate,
    )
    pages.init(app)  # the trade officer's console pages (HTML, not in the OpenAPI document)
    audit.install(app, AuditEntry)  # who did what: each write through the API or the console
    return app
