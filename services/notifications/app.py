"""Notifications app factory: gunicorn runs ``services.notifications.app:create_app()``."""

from __future__ import annotations

from pathlib import Path

from shared import audit
from shared.web import create_service_app, runtime_of

from .models import AuditEntry, Inbox, Outbox
from .routes import blp
from .webhook_routes import blp as webhooks_blp
from .webhook_targets import policy_for

SERVICE_DIR = Path(__file__).parent


def create_app(settings=None, migrate: bool = False):
    app = create_service_app(
        "notifications",
        SERVICE_DIR,
        Outbox,
        Inbox,
        [blp, webhooks_blp, audit.blueprint(AuditEntry, "notifications")],
        "OCOP notifications API",
        settings,
        migrate,
    )
    audit.install(app, AuditEntry)  # who did what: each write through the API or the console
    policy_for(runtime_of(app).settings)  # a wrong OCOP_WEBHOOK_* value stops the service at start
    return app
