"""What every service's HTTP side shares: the runtime (engine, sessions, outbox), one error
body, correlation ids, /livez, /readyz, /metrics and request latency.

Nothing here connects at import time; ``ServiceRuntime`` creates an engine lazily-connecting
and the broker is touched only by /readyz and /metrics.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
import uuid
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from . import auth, context, keys, limits, logs
from .bus.connection import connect
from .bus.outbox import Emitter, install_commit_signal, outbox_lag_seconds
from .bus.topology import QUEUES
from .config import Settings
from .db import make_engine, make_session_factory, run_migrations
from .errors import OperationError

log = logging.getLogger("ocop.web")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_LATENCY = Histogram(
    "ocop_http_request_duration_seconds", "HTTP request latency", ["service", "method", "endpoint", "status"]
)


class ServiceRuntime:
    """The composition root of one service: settings, database, outbox emitter."""

    def __init__(self, settings: Settings, service_dir: Path, outbox_model, inbox_model):
        self.settings = settings
        self.service = settings.service
        self.service_dir = service_dir
        self.engine = make_engine(settings.database_url)
        self.session_factory = make_session_factory(self.engine)
        install_commit_signal(self.session_factory)
        self.outbox = outbox_model
        self.inbox = inbox_model
        self.emit = Emitter(settings.service, outbox_model)
        _RUNTIMES[self.service] = self

    def migrate(self) -> None:
        run_migrations(self.service_dir, self.settings.database_url)

    @contextmanager
    def transaction(self):
        """One transaction: operations flush, this boundary commits (or rolls back)."""
        with self.session_factory() as session, session.begin():
            yield session

    def check_database(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def check_broker(self) -> None:
        conn = connect(self.settings.broker_url)
        try:
            conn.ensure_connection(max_retries=1, timeout=3)
        finally:
            conn.release()


_RUNTIMES: dict[str, ServiceRuntime] = {}


class _BusCollector:
    """Scrape-time figures read from the database and the broker."""

    def collect(self):
        lag = GaugeMetricFamily("ocop_outbox_lag_seconds", "Age of the oldest unsent outbox row", labels=["service"])
        depth = GaugeMetricFamily(
            "ocop_queue_depth", "Messages waiting in dead-letter and parking queues", labels=["queue"]
        )
        for name, rt in list(_RUNTIMES.items()):
            try:
                with rt.session_factory() as s:
                    lag.add_metric([name], outbox_lag_seconds(s, rt.outbox))
            except Exception:  # noqa: BLE001 - a scrape must not fail because the DB is down
                log.warning("outbox lag unavailable", extra={"service": name})
            for queue, size in _side_queue_depths(rt):
                depth.add_metric([queue], size)
        yield lag
        yield depth


def _side_queue_depths(rt: ServiceRuntime):
    from .bus.admin import queue_size

    out = []
    try:
        conn = connect(rt.settings.broker_url)
        try:
            for spec in QUEUES:
                if spec.service == rt.service:
                    out += [(q, queue_size(conn, q)) for q in (spec.dlq, spec.parking)]
        finally:
            conn.release()
    except Exception:  # noqa: BLE001
        log.warning("queue depths unavailable", extra={"service": rt.service})
    return out


_collector_registered = False


def _register_collector():
    global _collector_registered
    if not _collector_registered:
        REGISTRY.register(_BusCollector())
        _collector_registered = True


_SURROGATE = re.compile("[\ud800-\udfff]")


class _JsonProvider(DefaultJSONProvider):
    """JSON as UTF-8, not ``\\u`` escapes (readable Vietnamese); a lone surrogate a client sent
    (JSON's ``"\\ud800"``, echoed in an error such as an unknown field's name) goes back escaped,
    as UTF-8 cannot hold it: never a response that fails to encode."""

    ensure_ascii = False

    def dumps(self, obj, **kwargs):
        text = super().dumps(obj, **kwargs)
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def error_body(status: int, message: str, errors=None):
    body = {"code": status, "status": _status_name(status), "message": message}
    if errors:
        body["errors"] = errors
    return jsonify(body), status


HTTP_MESSAGES = {
    400: "the request body is not valid JSON",
    404: "no such resource",
    405: "method not allowed on this resource",
    422: "the request has invalid fields; see errors",
}


def http_error(exc):
    """The one error body for every HTTP error: werkzeug's (404, 405), flask-smorest's ``abort``
    (401, 403) and webargs' (400, 422), whose details come in ``exc.data``. Headers the error
    carries (``Allow`` on a 405) are kept."""
    data = getattr(exc, "data", None) or {}
    code = exc.code or 500
    message = data.get("message") or HTTP_MESSAGES.get(code) or exc.description or exc.name
    if code == 413:  # raised by werkzeug while a body or form is read past its limit
        message = limits.too_large_message()
    response, status = error_body(code, message, data.get("errors") or data.get("messages"))
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response, status


def _refuse_control_characters_in_path():
    """No record's id holds a control character, and PostgreSQL refuses a NUL in a query (a 500):
    such a path names nothing."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and any(unicodedata.category(ch) == "Cc" for ch in value):
            return error_body(404, HTTP_MESSAGES[404])
    return None


def _refuse_malformed_json():
    """A body sent as JSON that does not parse is a 400 on every endpoint, whether or not the
    endpoint reads a body (so a client's broken request is never silently taken)."""
    from werkzeug.exceptions import BadRequest

    if request.is_json and request.get_data(cache=True):
        try:
            request.get_json()
        except (BadRequest, RecursionError, ValueError):  # RecursionError: nested too deep to decode
            return error_body(400, HTTP_MESSAGES[400])
    return None


def _status_name(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def init_app(app: Flask, runtime: ServiceRuntime) -> None:
    """Attach probes, metrics, correlation ids and error handling to a service's app."""
    logs.setup(runtime.service)
    _register_collector()
    app.extensions["ocop_runtime"] = runtime
    app.config.setdefault("SECRET_KEY", keys.key("session", runtime.settings.key_material("session")))
    app.json = _JsonProvider(app)

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        cid = request.headers.get("X-Correlation-ID") or str(uuid.uuid4())
        g.cid_token = context.correlation_id.set(cid[:100])

    limits.install(app, runtime.settings, error_body)
    app.before_request(_refuse_control_characters_in_path)
    app.before_request(auth.authenticate_first)  # the token before anything reads the body
    app.before_request(_refuse_malformed_json)

    @app.after_request
    def _finish(response):
        response.headers["X-Correlation-ID"] = context.correlation_id.get() or ""
        if hasattr(g, "started"):  # labels from bounded sets: a client's invented method is "other"
            method = request.method if request.method in HTTP_METHODS else "other"
            HTTP_LATENCY.labels(
                runtime.service, method, request.url_rule.rule if request.url_rule else "-", response.status_code
            ).observe(time.perf_counter() - g.started)
        return response

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("cid_token", None)
        if token is not None:
            context.correlation_id.reset(token)

    @app.errorhandler(OperationError)
    def _operation_error(exc):
        return error_body(exc.status, exc.message, exc.errors())

    from werkzeug.exceptions import HTTPException

    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error")
        return error_body(500, "internal error; the change was not saved")

    @app.get("/livez")
    def livez():
        return {"status": "ok", "service": runtime.service}

    @app.get("/readyz")
    def readyz():
        checks = {}
        for name, check in (("database", runtime.check_database), ("broker", runtime.check_broker)):
            try:
                check()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks[name] = f"unavailable: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def create_service_app(
    service: str,
    service_dir: Path,
    outbox_model,
    inbox_model,
    blueprints,
    title: str,
    settings: Settings | None = None,
    migrate: bool = False,
) -> Flask:
    """The app factory every service's ``create_app`` delegates to (same shape in all three)."""
    from flask_smorest import Api

    from .config import load, require_secret

    settings = settings or load(service)
    require_secret(settings)  # outside the embedded default: a strong OCOP_SECRET_KEY or no start
    from .signing import require_keys

    require_keys(settings)  # outside the embedded default: the token public key (and the registry its private key)
    app = Flask(f"services.{service}")
    app.config.update(
        SECRET_KEY=keys.key("session", settings.key_material("session")),
        API_TITLE=title,
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH=None,
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "description": "python -m shared.auth ROLE SUBJECT"}
                }
            },
            "security": [{"bearer": []}],
        },
    )
    runtime = ServiceRuntime(settings, service_dir, outbox_model, inbox_model)
    if migrate:
        runtime.migrate()
    init_app(app, runtime)
    from . import console

    console.init(app, service)  # the shared layout, language and page headers (shared/console)

    class _Api(Api):
        DEFAULT_ERROR_RESPONSE_NAME = None  # each operation lists its own errors instead (shared/openapi.py)

        def handle_http_exception(self, error):  # flask-smorest's handler, made the one error body
            return http_error(error)

    from .openapi import ErrorResponses

    api = _Api(app, spec_kwargs={"extra_plugins": [ErrorResponses()]})
    for bp in blueprints:
        api.register_blueprint(bp)
    return app


def runtime_of(app: Flask) -> ServiceRuntime:
    return app.extensions["ocop_runtime"]


def rt() -> ServiceRuntime:
    """The runtime of the app handling the current request (routes: ``rt().transaction()``)."""
    return runtime_of(current_app)
