"""Recipients: producers as the registry announces them (contacts, language, consent) and their
own channel choices; whether a channel can reach one. Flush, never commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.errors import NotFound

from . import domain
from .models import Recipient


class RecipientUnknown(Exception):
    """Transient: the producer's registry event has not arrived yet (retried, then parked)."""


def upsert_recipient(session: Session, envelope: dict, data: dict) -> None:
    row = session.get(Recipient, data["producer_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return
    if row is None:
        row = Recipient(producer_id=data["producer_id"], opt_out_email=False, opt_out_sms=False)
        session.add(row)
    row.name = data["name"]
    row.email = data.get("email")
    row.phone = data.get("phone")
    row.language = data.get("preferred_language") or "vi"
    row.consent_email = data["consent"]["email"]
    row.consent_sms = data["consent"]["sms"]
    row.source_version = envelope["subject_version"]
    session.flush()


def channel_problems(recipient, adapters: dict) -> dict[str, str | None]:
    """Per producer channel: None if usable, else why not (no address is ever named)."""
    return {channel: channel_problem(recipient, channel, adapters) for channel in domain.PRODUCER_CHANNELS}


def channel_problem(recipient, channel: str, adapters: dict) -> str | None:
    """Why ``recipient`` (a Recipient or a row of its table) cannot be reached on ``channel``, or None."""
    adapter = adapters.get(channel)
    return domain.channel_problem(
        channel,
        address=adapter.address(recipient) if adapter else None,
        consent=getattr(recipient, f"consent_{channel}"),
        opted_out=getattr(recipient, f"opt_out_{channel}"),
        configured=bool(adapter and adapter.configured),
    )


def set_channels(session: Session, producer_id: str, choices: dict[str, bool]) -> Recipient:
    """A producer's own choice per channel: False opts out, True opts back in (consent recorded by
    the registry is still needed)."""
    row = session.get(Recipient, producer_id, with_for_update=True)
    if row is None:
        raise NotFound("no such recipient (the registry has not announced this producer)", field="producer_id")
    for channel, wanted in choices.items():
        setattr(row, f"opt_out_{channel}", not wanted)
    session.flush()
    return row
