"""A message's template fields: one pure function per message, from the event's data and what the
service knows beyond it (``known``: the recipient's name, the answer links, the invitation as the
producer knows it, a promotion, the days left). The consumer's context builders
(reactions.CONTEXTS) look ``known`` up in the database; previews build it from golden samples
(``preview_known``). No Flask, no SQLAlchemy, no I/O."""

from __future__ import annotations

from datetime import datetime

from . import domain

FAIR_SUMMARY = (
    "fair_id",
    "name",
    "kind",
    "venue",
    "host_province",
    "region",
    "starts_on",
    "ends_on",
    "subsidy_per_booth",
    "organiser",
    "organiser_contact",
    "organiser_phone",
    "organiser_email",
)


def fair_summary(data: dict) -> dict:
    """The fair's summary (as invitation events carry it) from a fair event's full state."""
    return {k: data[k] for k in FAIR_SUMMARY if k in data}


def _base(known: dict, ref_id: str | None) -> dict:
    return {"recipient": {"name": known["recipient_name"]}, "ref_id": ref_id}


def _sequence(known: dict) -> int:
    return domain.calendar_sequence(known.get("occurred_at"))


def offer(data: dict, known: dict) -> dict:
    """events.invitation.issued: the invitation (or, after a promotion, the same offer worded for it)."""
    return {
        **_base(known, data["invitation_id"]),
        "fair": data["fair"],
        "products": data["products"],
        "deadline": data["deadline"],
        "link": known["link"],
        "short_link": known["short_link"],
        "promotion": known.get("promotion"),
        "producer_province": data.get("producer_province"),
        "producer_province_entered": data.get("producer_province_entered"),
    }


def reminder(data: dict, known: dict) -> dict:
    """Before the deadline of an unanswered invitation (``data``: the invitation as known)."""
    return {
        **_base(known, data["invitation_id"]),
        "fair": data["fair"],
        "products": data["products"],
        "deadline": data["deadline"],
        "link": known["link"],
        "short_link": known["short_link"],
        "days_left": known["days_left"],
    }


def withdrawn(data: dict, known: dict) -> dict:
    inv = known["invitation"]
    cause, detail = domain.withdrawal_of(data)
    return {
        **_base(known, data["invitation_id"]),
        "fair": inv["fair"],
        "products": inv["products"],
        "cause": cause,
        "detail": detail,
        "booths": data.get("booths") or [],
        "calendar": {"status": "CANCELLED", "sequence": _sequence(known), "alarm": False},
    }


def fair_updated(data: dict, known: dict) -> dict:
    inv = known["invitation"]
    changes = domain.fair_changes(data["changed"], inv["fair"], data)
    moved = any(f in data["changed"] for f in domain.CALENDAR_FAIR_FIELDS)
    return {
        **_base(known, inv["invitation_id"]),
        "fair": fair_summary(data),
        "changes": changes,
        "organiser": data.get("organiser"),
        "status": inv["status"],
        "booths": inv.get("booths") or [],
        "deadline": inv["deadline"],
        "link": known.get("link") if inv["status"] == "issued" else None,
        "short_link": known.get("short_link") if inv["status"] == "issued" else None,
        "calendar": {"sequence": _sequence(known), "alarm": False} if moved else None,
    }


def fair_cancelled(data: dict, known: dict) -> dict:
    inv = known["invitation"]
    return {
        **_base(known, inv["invitation_id"]),
        "fair": fair_summary(data),
        "reason": data.get("reason"),
        "was_accepted": inv["status"] == "accepted" or bool(inv.get("booths")),
        "booths": inv.get("booths") or [],
        "calendar": {"status": "CANCELLED", "sequence": _sequence(known), "alarm": False},
    }


def accepted(data: dict, known: dict) -> dict:
    inv = known["invitation"]
    return {
        **_base(known, data["invitation_id"]),
        "fair": inv["fair"],
        "products": inv["products"],
        "booths": data.get("booths") or [data["booth"]],
        "note": data.get("note"),
        "calendar": {"status": "CONFIRMED", "sequence": _sequence(known), "alarm": False},
    }


def declined(data: dict, known: dict) -> dict:
    inv = known["invitation"]
    return {
        **_base(known, data["invitation_id"]),
        "fair": inv["fair"],
        "note": data.get("note"),
        "calendar": {"status": "CANCELLED", "sequence": _sequence(known), "alarm": False},
    }


def answer_refused(data: dict, known: dict) -> dict:
    inv = known["invitation"]
    cause, detail = domain.refusal_of(data)
    return {
        **_base(known, data["invitation_id"]),
        "fair": inv["fair"],
        "answer": data["answer"],
        "cause": cause,
        "detail": detail,
    }


def certificate(data: dict, known: dict) -> dict:
    """registry.certification.expiring (the notice due 30 days before) and .expired."""
    return {
        **_base(known, data["certification_id"]),
        "product_name": data["product_name"],
        "producer_name": data["producer_name"],
        "valid_until": data["valid_until"],
        "days_left": data.get("days_left"),
    }


FIELDS = {
    "invitation": offer,
    "promotion": offer,
    "reminder": reminder,
    "withdrawn": withdrawn,
    "fair_updated": fair_updated,
    "fair_cancelled": fair_cancelled,
    "accepted": accepted,
    "declined": declined,
    "answer_refused": answer_refused,
    "certificate_expiring": certificate,
    "certificate_expired": certificate,
}


# ---- previews: what the database would know, from golden samples ------------------------------------
def preview_known(
    name: str, data: dict, recipient_name: str, public_url: str, invitation: dict, now: datetime | None = None
) -> dict:
    """``known`` for a preview: placeholder links, and ``invitation`` (the invitation as the producer
    knows it, from the golden sample of events.invitation.issued) for messages about an invitation
    whose event carries only ids. For a fair's change, the invitation's fair differs from the
    sample's new state in the fields the sample names as changed."""
    inv = {
        **invitation,
        "status": "accepted" if name in ("fair_updated", "fair_cancelled") else "issued",
        "booths": [42] if name in ("fair_updated", "fair_cancelled") else [],
    }
    if name == "fair_updated":
        before = dict(inv["fair"])
        for field in data.get("changed", []):
            if field == "venue":
                before["venue"] = "Nhà văn hóa Thanh Niên, 4 Phạm Ngọc Thạch"
            elif field in ("starts_on", "ends_on", "subsidy_per_booth", "name", "host_province"):
                before[field] = {
                    "subsidy_per_booth": 10000000,
                    "name": "Hội chợ OCOP 2025",
                    "host_province": "Bình Dương",
                }.get(field, before[field])
        inv["fair"] = before
    return {
        "recipient_name": recipient_name,
        "link": f"{public_url}/r/PREVIEW-SIGNED-LINK",
        "short_link": f"{public_url}/r/s/PREVIEW00000",
        "invitation": inv,
        "promotion": {"cause": "declined", "rank": 251} if name == "promotion" else None,
        "days_left": 3,
        "occurred_at": now,
    }
