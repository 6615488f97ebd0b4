"""Notifications app factory: gunicorn runs ``services.notifications.app:create_app()``."""

from __future__ import annotations

from pathlib import Path

from shared.web import create_service_app

from .models import Inbox, Outbox
from .routes import blp
from .webhook_routes import blp as webhooks_blp

SERVICE_DIR = Path(__file__).parent


def create_app(settings=None, migrate: bool = False):
    return create_service_app("notifications", SERVICE_DIR, Outbox, Inbox, [blp, webhooks_blp],
                              "OCOP notifications API", settings, migrate)
