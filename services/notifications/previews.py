"""Template previews: the message templates, and one rendered for event data (the event's golden
sample unless given) without touching the database. No Flask, no database."""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import UndefinedError
from marshmallow import EXCLUDE, ValidationError

from shared.contracts import contract_for, parse_envelope, sample

from . import domain, fields, rendering
from .i18n import LANGUAGES


class UnknownTemplate(LookupError):
    """No template of that name (404)."""


class PreviewRefused(ValueError):
    """The data cannot be rendered (422): ``errors`` under the request body's ``data``."""

    def __init__(self, message: str, errors):
        super().__init__(message)
        self.errors = errors


def templates() -> list[dict]:
    """The message templates, the event each answers and who receives it."""
    return [
        {
            "name": k.name,
            "event_type": k.event_type,
            "audience": k.audience,
            "calendar": k.calendar,
            "answer_link": k.answer_link,
            "languages": list(LANGUAGES),
        }
        for k in domain.MESSAGES.values()
    ]


def template(name: str) -> domain.MessageKind:
    kind = domain.MESSAGES.get(name)
    if kind is None:
        raise UnknownTemplate(f"no template {name!r}; templates: {', '.join(sorted(domain.MESSAGES))}")
    return kind


def preview_context(name: str, data: dict, recipient_name: str, public_url: str) -> dict:
    """The fields a template gets for event data, without touching the database (previews): what
    the database would know comes from the golden sample of events.invitation.issued."""
    _, issued = parse_envelope(sample("events.invitation.issued", 1))
    invitation = {
        "invitation_id": data.get("invitation_id") or issued["invitation_id"],
        "fair": issued["fair"],
        "products": issued["products"],
        "deadline": issued["deadline"],
    }
    known = fields.preview_known(name, data, recipient_name, public_url, invitation, datetime.now(UTC))
    return fields.FIELDS[name](data, known)


def preview(kind: domain.MessageKind, language: str, data: dict | None, recipient_name: str, settings) -> dict:
    """``kind`` rendered in ``language`` for ``data`` (checked against the event's contract; None:
    its golden sample); PreviewRefused when the data does not do."""
    schema = contract_for(kind.event_type, 1).schema(unknown=EXCLUDE)
    try:
        loaded = schema.load(data if data is not None else sample(kind.event_type, 1)["data"])
    except ValidationError as exc:
        raise PreviewRefused(f"data does not satisfy {kind.event_type}; see errors", exc.messages) from exc
    ctx = preview_context(kind.name, loaded, recipient_name, settings.public_base_url)
    try:
        out = rendering.render(
            kind.name,
            language,
            ctx,
            sms_link=ctx.get("short_link"),
            sms_mode=settings.sms_mode,
            sms_max_segments=settings.sms_max_segments,
            calendar_uid=ctx.get("ref_id") or "preview",
        )
    except UndefinedError as exc:
        raise PreviewRefused("the template needs a field the data lacks", [str(exc)]) from exc
    return {
        "template": kind.name,
        "event_type": kind.event_type,
        "language": out.language,
        "subject": out.subject,
        "text": out.text,
        "html": out.html,
        "sms": out.sms.__dict__,
        "attachments": [a.as_dict() for a in out.attachments],
    }
