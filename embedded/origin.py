"""One origin for the embedded default: port 8000 serves everything, routing by path (docs/console.md).

- ``/registry/...``, ``/events/...``, ``/notifications/...``: that service's app, mounted with werkzeug's
  ``DispatcherMiddleware`` (``SCRIPT_NAME`` is the prefix, so ``url_for`` writes prefixed URLs);
- ``/r/...``: the notifications app as it is (the answer links in letters, ``OCOP_PUBLIC_URL``);
- everything else: the embedded console app (``/`` leads to the console's home, ``/dev/...`` the
  developer's mailbox and text messages).

The real deployment does the same with nginx in front of the gunicorn instances (deploy/nginx/ocop.conf).
"""

from __future__ import annotations

from werkzeug.middleware.dispatcher import DispatcherMiddleware

PREFIXES = ("registry", "events", "notifications")
ANSWER_PREFIX = "/r/"


def one_origin(console, apps: dict):
    """The WSGI app of the one origin: ``apps`` maps a service name to its Flask app."""
    mounted = DispatcherMiddleware(console, {f"/{name}": apps[name] for name in PREFIXES})
    notifications = apps["notifications"]

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(ANSWER_PREFIX):
            return notifications(environ, start_response)
        return mounted(environ, start_response)

    return app
