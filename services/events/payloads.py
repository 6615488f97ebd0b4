"""What the events service's messages say about a fair."""

from __future__ import annotations

from shared.instants import utc

from .models import Fair


def fair_summary(fair: Fair) -> dict:
    """The fair as its invitations carry it: what a letter about it says, the organiser and whom to
    ask included."""
    return {
        "fair_id": fair.id,
        "name": fair.name,
        "kind": fair.kind,
        "venue": fair.venue,
        "host_province": fair.host_province,
        "region": fair.region,
        "starts_on": fair.starts_on,
        "ends_on": fair.ends_on,
        "subsidy_per_booth": fair.subsidy_per_booth,
        "organiser": fair.organiser,
        "organiser_contact": fair.organiser_contact,
        "organiser_phone": fair.organiser_phone,
        "organiser_email": fair.organiser_email,
    }


def fair_state(fair: Fair) -> dict:
    return {
        **fair_summary(fair),
        "organiser_kind": fair.organiser_kind,
        "host_province_entered": fair.host_province_entered,
        "capacity": fair.capacity,
        "booths_assigned": fair.booths_assigned,
        "invitation_deadline": utc(fair.invitation_deadline),
        "response_days": fair.response_days,
        "budget": fair.budget,
        "status": fair.status,
        "rules": fair.rules or {},
    }
