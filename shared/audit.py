"""Who did what: each service's audit log (issue 13).

Every write through the API or the console records the acting person (``shared.auth.actor()``: the
token's ``sub`` and role, a session's account id, name and role) with what it did and on which
subject, in the service's ``audit_log`` table: each event the write publishes is an entry in the
write's own transaction (``shared.bus.outbox.Emitter.audit_model``), and a write that publishes none
is recorded after it succeeds (``install``). The events
the write publishes carry the same ``actor`` in their data. An administrator reads the log with
``GET /audit`` (paged, filtered by actor, action, subject and time).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g, has_request_context, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from .db import utcnow
from .fields import CODE, Line
from .instants import UtcDateTime

SYSTEM = {"id": "system", "name": "system", "role": "system"}


def define_model(Base):
    class AuditEntry(Base):
        __tablename__ = "audit_log"
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
        actor_id: Mapped[str] = mapped_column(String(100), index=True)
        actor_name: Mapped[str] = mapped_column(String(200))
        actor_role: Mapped[str] = mapped_column(String(20))
        action: Mapped[str] = mapped_column(String(100), index=True)
        subject: Mapped[str] = mapped_column(String(200), index=True)
        detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    return AuditEntry


def actor() -> dict:
    """Who acts now: the request's principal, else the system (a worker, a command)."""
    claims = g.get("principal") if has_request_context() else None
    if not claims:
        return dict(SYSTEM)
    return {"id": str(claims["sub"]), "name": str(claims.get("name") or claims["sub"]), "role": claims["role"]}


def record(session, model, action: str, subject: str, detail: dict | None = None, who: dict | None = None):
    """Add one entry (in the caller's transaction); returns it."""
    who = who or actor()
    entry = model(
        actor_id=who["id"][:100],
        actor_name=who["name"][:200],
        actor_role=who["role"][:20],
        action=action[:100],
        subject=str(subject)[:200],
        detail=detail,
    )
    session.add(entry)
    if has_request_context():
        g.audited = True
    return entry


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install(app, model) -> None:
    """Make ``model`` the app's audit log: each event a request causes is an entry (the emitter's
    ``audit_model``), and a successful write that caused none gets one of its own afterwards (what:
    the method and the route, subject: the path), so every write through the API is recorded."""
    from .web import runtime_of

    runtime = runtime_of(app)
    runtime.emit.audit_model = model

    @app.after_request
    def _write_recorded(response):
        if (
            request.method in WRITES
            and response.status_code < 400
            and g.get("principal")
            and not g.get("audited")
            and request.url_rule is not None
        ):
            with runtime.transaction() as s:
                record(s, model, f"{request.method} {request.url_rule.rule}"[:100], request.path[:200])
        return response


class AuditQuery(Schema):
    actor = Line(load_default=None, max_length=CODE, metadata={"description": "an actor's id"})
    action = Line(load_default=None, max_length=100)
    subject = Line(load_default=None, max_length=200)
    since = UtcDateTime(load_default=None)
    until = UtcDateTime(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class AuditActorOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class AuditEntryOut(Schema):
    id = fields.Integer(required=True)
    at = UtcDateTime(required=True)
    actor = fields.Nested(AuditActorOut, required=True)
    action = fields.String(required=True)
    subject = fields.String(required=True)
    detail = fields.Dict(allow_none=True)


class AuditPageOut(Schema):
    items = fields.List(fields.Nested(AuditEntryOut), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)


def query(session, model, args: dict) -> dict:
    from sqlalchemy import func

    stmt = select(model)
    for column, key in ((model.actor_id, "actor"), (model.action, "action"), (model.subject, "subject")):
        if args.get(key):
            stmt = stmt.where(column == args[key])
    if args.get("since"):
        stmt = stmt.where(model.at >= args["since"])
    if args.get("until"):
        stmt = stmt.where(model.at < args["until"])
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    page, per_page = args.get("page", 1), args.get("per_page", 50)
    rows = session.scalars(stmt.order_by(model.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    items = [
        {
            "id": r.id,
            "at": r.at,
            "actor": {"id": r.actor_id, "name": r.actor_name, "role": r.actor_role},
            "action": r.action,
            "subject": r.subject,
            "detail": r.detail,
        }
        for r in rows
    ]
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def blueprint(model, service: str) -> Blueprint:
    """``GET /audit`` for ``service``'s log, administrators only."""
    from .auth import require
    from .web import runtime_of

    blp = Blueprint(f"{service}_audit", __name__, url_prefix="/", description="Who did what (administrators)")

    @blp.route("/audit")
    class Audit(MethodView):
        @require("admin")
        @blp.arguments(AuditQuery, location="query")
        @blp.response(200, AuditPageOut)
        def get(self, args):
            """The audit log, newest first: who did what, when, on which subject."""
            with runtime_of(current_app).session_factory() as s:
                return query(s, model, args)

    return blp
