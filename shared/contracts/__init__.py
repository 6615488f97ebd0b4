"""Message contracts: the envelope and one marshmallow schema per event type and version.

Rules: within a version only add optional fields; consumers ignore unknown fields
(``unknown=EXCLUDE``); a breaking change is a new version published beside the old one.
Every contract has a golden sample in ``samples/<type>.v<version>.json``; the AsyncAPI
document (docs/asyncapi.yaml) is generated from these schemas and a test keeps it in step.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from . import events as _events  # noqa: F401  (registers the contracts: events_events, registry_events)
from . import notifications as _notifications  # noqa: F401
from . import tokens as _tokens  # noqa: F401
from .registry import CONTRACTS, Contract, contract_for

SAMPLES = Path(__file__).parent / "samples"

__all__ = [
    "CONTRACTS",
    "Contract",
    "Envelope",
    "ContractError",
    "REPLAY_PREFIX",
    "contract_for",
    "make_envelope",
    "make_envelopes",
    "parse_envelope",
    "replayed",
    "sample",
]


class ContractError(Exception):
    """The message does not satisfy its contract (a permanent failure: dead-letter it)."""

    def __init__(self, reason: str, details=None):
        super().__init__(reason)
        self.reason = reason
        self.details = details


class Actor(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.Length(min=1, max=20))


class Envelope(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=3, max=120))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    source = fields.String(required=True, validate=validate.OneOf(["registry", "events", "notifications", "external"]))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    subject_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    causation_id = fields.String(load_default=None, allow_none=True)
    actor = fields.Nested(
        Actor,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "who acted (added in v1, issue 13): the person or integration whose request "
            "caused the event; absent or null for what a worker or a command did on its own"
        },
    )
    data = fields.Dict(required=True)


_ENVELOPE = Envelope()


def make_envelope(
    type_: str,
    version: int,
    source: str,
    subject: str,
    subject_version: int,
    data: dict,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor: dict | None = None,
) -> dict:
    """Build and validate an outgoing message; a producer can never emit an invalid event."""
    return make_envelopes(
        source, [(type_, subject, subject_version, data)], version, correlation_id, causation_id, actor
    )[0]


def make_envelopes(
    source: str,
    events: list,
    version: int,
    correlation_id: str | None,
    causation_id: str | None,
    actor: dict | None = None,
) -> list[dict]:
    """Envelopes of ``(type, subject, subject_version, data)`` events, each checked against its
    contract (the one place envelopes are built). The events of one type are dumped and checked
    together, by one schema instance per contract made once (making a schema per event costs
    more than the check itself). An event's correlation id is ``correlation_id``, else its own id."""
    wires: list = [None] * len(events)
    by_type: dict[str, list[int]] = {}
    for i, (type_, *_rest) in enumerate(events):
        by_type.setdefault(type_, []).append(i)
    for type_, indexes in by_type.items():
        schema = _dumper(contract_for(type_, version))
        try:
            dumped = schema.dump([events[i][3] for i in indexes], many=True)  # python values -> JSON types
        except (TypeError, ValueError, AttributeError) as exc:
            raise ContractError(f"outgoing {type_} v{version} cannot be serialised: {exc}") from exc
        errors = schema.validate(dumped, many=True)
        if errors:
            raise ContractError(
                f"outgoing {type_} v{version} violates its contract",
                errors[0] if len(indexes) == 1 and 0 in errors else errors,
            )
        for i, wire in zip(indexes, dumped, strict=True):
            wires[i] = wire
    occurred_at = datetime.now(UTC).isoformat()
    out = []
    for (type_, subject, subject_version, _data), wire in zip(events, wires, strict=True):
        event_id = str(uuid.uuid4())
        out.append(
            {
                "id": event_id,
                "type": type_,
                "version": version,
                "occurred_at": occurred_at,
                "source": source,
                "subject": str(subject),
                "subject_version": int(subject_version),
                "correlation_id": correlation_id or event_id,
                "causation_id": causation_id,
                **({"actor": dict(actor)} if actor else {}),
                "data": wire,
            }
        )
    return out


# The correlation id of the events a registry replay re-publishes (services/registry/replay.py):
# ``registry-replay:<run id>``. They rebuild read models and are not news.
REPLAY_PREFIX = "registry-replay:"


def replayed(envelope: dict) -> bool:
    """Whether an event was re-published by a registry replay (its correlation id says so)."""
    return str(envelope.get("correlation_id") or "").startswith(REPLAY_PREFIX)


def parse_envelope(raw: dict) -> tuple[dict, dict]:
    """Validate envelope then data; returns (envelope, data). Raises ContractError."""
    if not isinstance(raw, dict):
        raise ContractError("message body is not a JSON object")
    try:
        env = _ENVELOPE.load(raw)
    except ValidationError as exc:
        raise ContractError("invalid envelope", exc.messages) from exc
    try:
        contract = contract_for(env["type"], env["version"])
    except KeyError as exc:
        raise ContractError(
            f"unknown message type {env['type']} v{env['version']}",
            {"type": [f"no contract for {env['type']} version {env['version']}"]},
        ) from exc
    try:
        data = _loader(contract).load(env["data"])
    except ValidationError as exc:
        raise ContractError(f"data violates {env['type']} v{env['version']}", exc.messages) from exc
    env["id"] = str(env["id"])
    return env, data


_LOADERS: dict[tuple[str, int], Schema] = {}
_DUMPERS: dict[tuple[str, int], Schema] = {}


def _dumper(contract: Contract) -> Schema:
    """One schema instance per contract for outgoing data (dump and validate keep no state)."""
    key = (contract.type, contract.version)
    schema = _DUMPERS.get(key)
    if schema is None:
        schema = _DUMPERS[key] = contract.schema()
    return schema


def _loader(contract: Contract) -> Schema:
    """One schema instance per contract for loading, reused like ``_ENVELOPE``: building one
    per message cost a consumer as much as the loading did (see bench/pipeline.py)."""
    key = (contract.type, contract.version)
    schema = _LOADERS.get(key)
    if schema is None:
        schema = _LOADERS[key] = contract.schema(unknown=EXCLUDE)
    return schema


def sample(type_: str, version: int) -> dict:
    return json.loads((SAMPLES / f"{type_}.v{version}.json").read_text(encoding="utf-8"))
