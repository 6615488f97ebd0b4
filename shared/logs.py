"""JSON logs on stderr, each line carrying the correlation id of the request or message.

Never log personal data (emails, phone numbers): log ids instead. Never log credentials: a path or
URL that carries one (an answer link ``/r/<token>`` or its short code ``/r/s/<code>``, a calendar
feed's ``?token=``) is redacted at the source, in every log line (``redact``, applied by a filter on
the one handler) and in gunicorn's access log (``GunicornLogger``: ``--logger-class
shared.logs.GunicornLogger``, also set by the repository's gunicorn.conf.py); Authorization and
Cookie headers are never logged.
"""

from __future__ import annotations

import logging
import re
import sys

from gunicorn.glogging import Logger as _GunicornBase
from pythonjsonlogger.json import JsonFormatter

from . import config, context

REDACTED = "[redacted]"
# the signed answer link and its short code (first path segment "r"), and query values that are credentials
_LINK = re.compile(r"(/r/(?:s/)?)[^/?#\s\"']+")
_QUERY = re.compile(r"(?i)((?:^|[?&;\s])(?:token|access_token|code|key|secret|signature|sig)=)[^&#\s\"']*")


def redact(text: str) -> str:
    """``text`` with every credential a URL or path may carry replaced by ``[redacted]``."""
    if "/r/" not in text and "=" not in text:
        return text
    return _QUERY.sub(r"\1" + REDACTED, _LINK.sub(r"\1" + REDACTED, text))


class _ContextFilter(logging.Filter):
    def filter(self, record):
        record.correlation_id = context.correlation_id.get()
        return True


class _RedactFilter(logging.Filter):
    """Credentials out of every record: its message (werkzeug's request lines too) and string extras."""

    def filter(self, record):
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        for name, value in list(record.__dict__.items()):
            if name not in _PLAIN and isinstance(value, str) and value:
                cleaned = redact(value)
                if cleaned != value:
                    setattr(record, name, cleaned)
        return True


_PLAIN = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class GunicornLogger(_GunicornBase):
    """gunicorn's logger, with credentials redacted from the access log: the request line, path,
    query, referer and the environ's copies of them; no Authorization or Cookie header, no user."""

    _SECRET_HEADERS = (
        "{authorization}i",
        "{cookie}i",
        "{http_authorization}e",
        "{http_cookie}e",
        "{proxy-authorization}i",
        "{http_proxy_authorization}e",
    )

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["u"] = "-"
        for key in (
            "r",
            "U",
            "q",
            "f",
            "{raw_uri}e",
            "{path_info}e",
            "{query_string}e",
            "{http_referer}e",
            "{referer}i",
            "{request_uri}e",
        ):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        for key in self._SECRET_HEADERS:
            if key in atoms:
                atoms[key] = REDACTED
        return atoms


def setup(service: str) -> None:
    root = logging.getLogger()
    if getattr(root, "_ocop_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            static_fields={"service": service},
            timestamp=False,
        )
    )
    handler.addFilter(_ContextFilter())
    handler.addFilter(_RedactFilter())
    root.handlers[:] = [handler]
    root.setLevel(config.process().log_level)
    logging.getLogger("amqp").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    root._ocop_configured = True
