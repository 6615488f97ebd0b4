"""Message handlers of the registry: commands from outside systems (queue registry.commands).

A command is validated by the same schema as the HTTP API and applied by the same operation.
Every command gets an answer event: ``registry.command.accepted`` with what it created, or
``registry.command.rejected`` with field errors, and nothing written. The answer commits in the
same transaction as the inbox row, so a redelivered command is answered once.

When the broker vouches for the command's sender (its AMQP ``user_id``, an integration's broker
user), the answer also goes to that integration alone: on ``ocop.replies`` with the routing key
``reply.<user>.<answer type>`` and the command's message id as ``correlation_id``. So does a
``registry.command.rejected`` for a command that cannot even be read (not JSON, not the
envelope, not the contract), which otherwise would only reach the dead-letter queue.
"""

from __future__ import annotations

import json

from marshmallow import ValidationError

from shared.bus.refusals import REFUSED
from shared.bus.topology import REPLIES_EXCHANGE
from shared.bus.trust import reply_key
from shared.errors import OperationError
from shared.instants import vietnam_today

from . import operations as ops
from .schemas import CertificationIn


def on_record_certification(emit):
    def handle(session, envelope, data):
        answer = {"command_id": data["command_id"], "command_type": envelope["type"]}
        try:
            fields = CertificationIn().load(data["certification"])
            with session.begin_nested():  # a refusal leaves nothing of the command behind
                cert = ops.grant_certification(
                    session,
                    emit,
                    fields,
                    today=vietnam_today(),
                    actor=envelope.get("sender") or f"command {envelope['type']}",
                )
        except ValidationError as exc:
            return _answer(
                session, emit, envelope, "registry.command.rejected", {**answer, "errors": _flatten(exc.messages)}
            )
        except OperationError as exc:
            return _answer(
                session,
                emit,
                envelope,
                "registry.command.rejected",
                {**answer, "errors": {exc.field or "command": [exc.message]}},
            )
        # The certificate attached to its decision (found by authority, number and date, or recorded now).
        _answer(
            session,
            emit,
            envelope,
            "registry.command.accepted",
            {**answer, "result_id": cert.id, "decision_id": cert.decision_id},
        )

    return handle


def _answer(session, emit, envelope: dict, type_: str, data: dict) -> None:
    emit(session, type_, data["command_id"], 1, data)  # the event, as every answer
    sender = envelope.get("sender")
    if sender:  # and the reply to the integration that sent the command
        emit(
            session,
            type_,
            data["command_id"],
            1,
            data,
            exchange=REPLIES_EXCHANGE,
            routing_key=reply_key(sender, type_),
            correlation_id=envelope["id"],
        )


def on_unreadable(emit):
    """A command the consumer could not read, from an integration the broker vouches for: a
    ``registry.command.rejected`` reply naming what was wrong (the message goes to the DLQ too)."""

    def hook(session, sender: str, refusal: dict) -> None:
        raw = _loads(refusal["body"])
        data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
        message_id = _text(refusal.get("message_id")) or _text(raw.get("id"))
        command_id = _text(data.get("command_id")) or message_id or "unknown"
        details = refusal.get("details")
        errors = _flatten(details) if isinstance(details, dict) and details else {"command": [refusal["reason"]]}
        reply = {
            "command_id": command_id,
            "command_type": _text(raw.get("type")) or _text(refusal.get("type")) or "unknown",
            "errors": errors,
        }
        type_ = "registry.command.rejected"
        emit(
            session,
            type_,
            command_id,
            1,
            reply,
            exchange=REPLIES_EXCHANGE,
            routing_key=reply_key(sender, type_),
            correlation_id=message_id or command_id,
        )

    return hook


def _loads(body) -> dict:
    try:
        raw = json.loads(body)
    except Exception:  # noqa: BLE001 - whatever made the consumer refuse it
        return {}
    return raw if isinstance(raw, dict) else {}


def _text(value) -> str | None:
    return value[:100] if isinstance(value, str) and value.strip() else None


def _flatten(messages: dict, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict as {"field.sub": [messages]}."""
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = [str(v) for v in value]
        else:
            out[name] = [str(value)]
    return out


def handlers(runtime) -> dict:
    """queue name -> {message type -> handler} (``runtime``: the service's ServiceRuntime)."""
    emit = runtime.emit
    return {
        "registry.commands": {
            "registry.record_certification": on_record_certification(emit),
            REFUSED: on_unreadable(emit),
        }
    }
