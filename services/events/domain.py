"""Fair rules: kinds, lifecycle, dates, capacity and budget. Plain Python, no Flask or SQLAlchemy,
unit-tested alone. Matching (eligibility, score, selection, waitlist) is in ``matching.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from shared.instants import VIETNAM  # deadlines end at the end of a day in Vietnam

KINDS = ("trade_fair", "exhibition", "showcase_point")
# A showcase-and-sale point (Decision 950/QĐ-BCT: airports, stations, rest stops, tourist areas) is a
# long-running "fair" with shelves rather than staffed booths: a producer there is not away from
# home, so it never clashes with a producer's other fairs (see matching.overlaps).
LONG_RUNNING = frozenset({"showcase_point"})
# Where a fair is held, above all a showcase point's place (Decision 950/QĐ-BCT): tourist sites,
# airports, stations, highway rest stops, hotels, craft villages, trade centres (optional on a fair).
VENUE_KINDS = ("tourist_site", "airport", "station", "highway_rest_stop", "hotel", "craft_village", "trade_centre")
MAX_DAYS = {"trade_fair": 31, "exhibition": 62, "showcase_point": 3 * 366}
END_OF_DAY = time(23, 59, 59)
ORGANISER_KINDS = ("trade_department", "trade_promotion_centre", "ministry", "peoples_committee", "other")

TRANSITIONS = {
    "draft": {"published", "cancelled"},
    "published": {"inviting", "cancelled"},
    "inviting": {"closed", "cancelled"},
    "closed": {"held", "cancelled"},
    "held": set(),
    "cancelled": set(),
}
OPEN = frozenset({"draft", "published", "inviting", "closed"})

# What may change in each state (PATCH). Before invitations go out, anything; while inviting, only
# what does not change who is eligible or the dates producers were invited for.
EDITABLE_WHILE_INVITING = frozenset(
    {
        "name",
        "organiser",
        "organiser_kind",
        "organiser_contact",
        "organiser_phone",
        "organiser_email",
        "venue",
        "venue_kind",
        "capacity",
        "subsidy_per_booth",
        "budget",
    }
)
EDITABLE = {"draft": None, "published": None, "inviting": EDITABLE_WHILE_INVITING}  # None: every field


class RuleError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none"
        raise RuleError("status", f"cannot go from {current} to {target}; allowed: {allowed}")


def check_dates(starts_on: date, ends_on: date, invitation_deadline: datetime, kind: str = "trade_fair") -> None:
    """The fair's own timeline in order: invitations close no later than the day it starts, it ends
    on or after it starts, and it lasts no longer than its kind allows."""
    if ends_on < starts_on:
        raise RuleError("ends_on", "is before starts_on")
    days = (ends_on - starts_on).days + 1
    if days > MAX_DAYS.get(kind, MAX_DAYS["trade_fair"]):
        hint = "; a long-running point is a showcase_point" if kind not in LONG_RUNNING else ""
        raise RuleError("ends_on", f"a {kind} lasts at most {MAX_DAYS[kind]} days, this one {days}{hint}")
    if invitation_deadline.date() > starts_on:
        raise RuleError("invitation_deadline", "is after the fair starts")


def check_deadline_ahead(invitation_deadline: datetime, now: datetime) -> None:
    if invitation_deadline <= now:
        raise RuleError("invitation_deadline", f"is in the past ({invitation_deadline.isoformat()})")


def check_capacity(capacity: int, booths_assigned: int) -> None:
    if capacity < booths_assigned:
        raise RuleError("capacity", f"{booths_assigned} booths are already assigned; capacity cannot be {capacity}")


def check_budget(budget: int | None, subsidy_per_booth: int, capacity: int) -> None:
    """The budget, when given, covers the subsidy of every booth."""
    if budget is not None and subsidy_per_booth * capacity > budget:
        raise RuleError(
            "budget",
            f"subsidising {capacity} booths at {subsidy_per_booth:,} đồng costs "
            f"{subsidy_per_booth * capacity:,} đồng, more than the budget of {budget:,}",
        )


def check_editable(status: str, fields: set[str]) -> None:
    if status not in EDITABLE:
        raise RuleError("status", f"a {status} fair cannot be changed")
    allowed = EDITABLE[status]
    if allowed is None:
        return
    for name in sorted(fields - allowed):
        raise RuleError(name, f"cannot change {name} while the fair is {status}; only {', '.join(sorted(allowed))}")


def check_rules(rules: dict) -> None:
    """Rules that only make sense together: a sub-group or a quota names an admitted group."""
    groups = set(rules.get("groups") or ())
    if not groups:
        return
    for code in rules.get("subgroups") or ():
        group = int(code.split(".")[0])
        if group not in groups:
            raise RuleError(
                "rules.subgroups",
                f"sub-group {code} belongs to group {group}, which the fair does not admit (groups {sorted(groups)})",
            )
    for group in sorted(int(g) for g in (rules.get("group_quotas") or {})):
        if group not in groups:
            raise RuleError(
                "rules.group_quotas",
                f"a quota for group {group}, which the fair does not admit (groups {sorted(groups)})",
            )


def check_can_hold(starts_on: date, today: date) -> None:
    if today < starts_on:
        raise RuleError("status", f"the fair starts on {starts_on.isoformat()}; it cannot be held before")


def invitation_deadline(issued_at: datetime, response_days: int, fair_deadline: datetime) -> datetime:
    """Each invitation has its own deadline: the end of the day (23:59:59 Vietnam time) ``response_days``
    after it is issued, never later than the fair's, which the organiser sets and which is kept as set.
    A round time a producer can read ("by 23:59 on 15/10"), not the minute the fair happened to be
    published or a place freed up. A producer who lets it lapse frees the booth for the waitlist."""
    day = (issued_at.astimezone(VIETNAM) + timedelta(days=response_days)).date()
    end_of_day = datetime.combine(day, END_OF_DAY, tzinfo=VIETNAM)
    return min(end_of_day.astimezone(UTC), fair_deadline.astimezone(UTC))
