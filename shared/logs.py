"""JSON logs on stderr, each line carrying the correlation id of the request or message.

Never log personal data (emails, phone numbers): log ids instead.
"""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter

from . import context


class _ContextFilter(logging.Filter):
    def filter(self, record):
        record.correlation_id = context.correlation_id.get()
        return True


def setup(service: str) -> None:
    root = logging.getLogger()
    if getattr(root, "_ocop_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
                                       static_fields={"service": service}, timestamp=False))
    handler.addFilter(_ContextFilter())
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("OCOP_LOG_LEVEL", "INFO"))
    logging.getLogger("amqp").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    root._ocop_configured = True
