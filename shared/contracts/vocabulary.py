"""The vocabulary every event contract shares: code lists and the base of event data."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema

LANGS = ["vi", "en"]
PRODUCER_KINDS = ["cooperative", "enterprise", "household", "cooperative_group"]
# The six socio-economic regions (codes); which province belongs to which is registry data.
REGIONS = [
    "northern_midlands_mountains",
    "red_river_delta",
    "north_central_coast",
    "central_highlands",
    "southeast",
    "mekong_delta",
]
FAIR_KINDS = ["trade_fair", "exhibition", "showcase_point"]
# "showcase" was the name of showcase_point before issue 4; messages already sent may still carry it.
_FAIR_KINDS_ON_WIRE = [*FAIR_KINDS, "showcase"]
FAIR_STATUSES = ["draft", "published", "inviting", "closed", "held", "cancelled"]
INVITATION_STATUSES = ["issued", "waitlisted", "accepted", "declined", "expired", "withdrawn"]
# Why an invitation was withdrawn, and why an answer was refused (events.invitation.withdrawn and
# .answer_refused carry the code beside the reason in words).
WITHDRAWAL_CAUSES = ("certificate_revoked", "certificate_expired", "fair_cancelled", "fair_full", "organiser", "other")
REFUSAL_CAUSES = (
    "deadline_passed",
    "already_answered",
    "closed",
    "waitlisted",
    "clash",
    "fair_full",
    "not_yours",
    "other",
)


class _Data(Schema):
    """Base for event data. Consumers ignore fields they do not know (also in nested schemas),
    so a producer may add an optional field within a version."""

    class Meta:
        unknown = EXCLUDE
