"""Answers through the signed link: what a link opens (the invitation as its producer knows it, or
why it cannot be used), what the answer page says about the invitation now, and the answer
recorded once per invitation. Flush, emit, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict

from . import domain, links
from .models import Answer, InvitationView, Recipient
from .views import view_dict


@dataclass(frozen=True)
class OpenLink:
    """A usable link: its claims, the invitation, the page's language, and whether it was answered."""

    claims: dict
    view: InvitationView
    language: str | None
    answered: bool


class LinkRefused(Exception):
    """The link opens no form: ``state`` says why (a page of templates/page.html), in ``language``."""

    def __init__(self, state: str, language: str | None):
        super().__init__(state)
        self.state, self.language = state, language


def open_link(session: Session, secret: str, token: str, asked_language: str | None) -> OpenLink:
    """The link's claims, the invitation as its producer knows it, the page's language (the one
    asked for, else the producer's) and whether it was answered; LinkRefused when it cannot be used."""
    try:
        claims = links.read_token(secret, token)
    except links.LinkError as exc:
        known = exc.claims and session.get(Recipient, exc.claims.get("prod"))
        lang = asked_language or (known.language if known else None)
        raise LinkRefused("link_expired" if exc.kind == "expired" else exc.kind, lang) from exc
    recipient = session.get(Recipient, claims["prod"])
    lang = asked_language or (recipient.language if recipient else None)
    view = session.get(InvitationView, claims["inv"])
    if view is None:
        raise LinkRefused("unknown", lang)
    if view.producer_id != claims["prod"]:  # signed for another producer than the invitation's
        raise LinkRefused("not_yours", lang)
    return OpenLink(claims, view, lang, session.get(Answer, claims["inv"]) is not None)


def page_state(view: InvitationView, answered: bool) -> dict:
    """What the page says about the invitation now (see templates/page.html)."""
    state = "answered" if view.status == "issued" and answered else view.status
    out = {
        "now_state": "open" if state == "issued" else state,
        "inv": view_dict(view),
        "booths": view.booths or ([view.booth] if view.booth else []),
    }
    if state == "refused":
        out["cause"], out["detail"] = domain.refusal_cause(view.verdict or "")
    elif state == "withdrawn":
        cause, detail = domain.withdrawal_cause(view.verdict or "")
        # the code the event carried; what the words name only when they say the same
        out["cause"] = view.withdrawn_cause or cause
        out["detail"] = detail if cause == out["cause"] else None
    return out


def record_answer(session: Session, emit, claims: dict, answer: str, note: str | None) -> Answer:
    """Once per invitation: a second use of the link is a Conflict."""
    row = Answer(
        invitation_id=claims["inv"], producer_id=claims["prod"], answer=answer, note=note, answered_at=datetime.now(UTC)
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("this invitation has already been answered", field="invitation_id") from exc
    emit(
        session,
        "notifications.invitation.answered",
        row.invitation_id,
        1,
        {
            "invitation_id": row.invitation_id,
            "producer_id": row.producer_id,
            "answer": answer,
            "note": note,
            "answered_at": row.answered_at,
        },
    )
    return row
