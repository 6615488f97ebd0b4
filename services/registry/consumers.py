"""Message handlers of the registry: commands from outside systems (queue registry.commands).

A command is validated by the same schema as the HTTP API and applied by the same operation.
Every command gets an answer event: ``registry.command.accepted`` with what it created, or
``registry.command.rejected`` with field errors, and nothing written. The answer commits in the
same transaction as the inbox row, so a redelivered command is answered once.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from marshmallow import ValidationError

from shared.errors import OperationError

from . import operations as ops
from .schemas import CertificationIn

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def on_record_certification(emit):
    def handle(session, envelope, data):
        answer = {"command_id": data["command_id"], "command_type": envelope["type"]}
        try:
            fields = CertificationIn().load(data["certification"])
            with session.begin_nested():  # a refusal leaves nothing of the command behind
                cert = ops.grant_certification(session, emit, fields, today=datetime.now(VIETNAM).date())
        except ValidationError as exc:
            return _reject(session, emit, answer, _flatten(exc.messages))
        except OperationError as exc:
            return _reject(session, emit, answer, {exc.field or "command": [exc.message]})
        emit(session, "registry.command.accepted", data["command_id"], 1, {**answer, "result_id": cert.id})

    return handle


def _reject(session, emit, answer: dict, errors: dict) -> None:
    emit(session, "registry.command.rejected", answer["command_id"], 1, {**answer, "errors": errors})


def _flatten(messages: dict, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict as {"field.sub": [messages]}."""
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = [str(v) for v in value]
    return out


def handlers(emit) -> dict:
    """queue name -> {message type -> handler}"""
    return {"registry.commands": {"registry.record_certification": on_record_certification(emit)}}
