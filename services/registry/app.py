"""Registry app factory: gunicorn runs ``services.registry.app:create_app()``."""

from __future__ import annotations

from pathlib import Path

from shared import audit
from shared.web import create_service_app

from . import account_pages, admin_pages, pages
from .decision_routes import blp as decisions_blp
from .models import AuditEntry, Inbox, Outbox
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
        [blp, decisions_blp, reference_blp, tokens_blp, audit.blueprint(AuditEntry, "registry")],
        "OCOP registry API",
        settings,
        migrate,
    )
    pages.init(app)  # the registry officer's console pages (HTML, not in the OpenAPI document)
    account_pages.init(app)  # sign-in, sign-out, password reset: the one issuer of sessions
    admin_pages.init(app)  # the administrator's: accounts and the audit log
    audit.install(app, AuditEntry)  # who did what: each write through the API or the console
    return app
